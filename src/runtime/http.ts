// Serving a fetch handler over HTTP: the one place where Bun and Deno need different calls.

export interface HttpListener {
  port: number;
  close(): Promise<void>;
}

type FetchHandler = (req: Request) => Response | Promise<Response>;

interface BunServer {
  port: number;
  stop(closeActive?: boolean): Promise<void> | void;
}
interface DenoServer {
  addr: { port: number };
  shutdown(): Promise<void>;
}
interface RuntimeGlobals {
  Bun?: { serve(o: { hostname: string; port: number; fetch: FetchHandler }): BunServer };
  Deno?: { serve(o: { hostname: string; port: number; onListen?: () => void }, h: FetchHandler): DenoServer };
}

export function serveHttp(fetch: FetchHandler, hostname: string, port: number): HttpListener {
  const g = globalThis as unknown as RuntimeGlobals;
  if (g.Bun) {
    const server = g.Bun.serve({ hostname, port, fetch });
    return { port: server.port, close: async () => void (await server.stop(true)) };
  }
  if (g.Deno) {
    const server = g.Deno.serve({ hostname, port, onListen: () => {} }, fetch);
    return { port: server.addr.port, close: () => server.shutdown() };
  }
  throw new Error('the console needs Bun or Deno (Node.js has no built-in fetch server)');
}
