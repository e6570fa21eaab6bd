// The control channel's wire format: one JSON request line in, one JSON response line out, per connection.

export type ControlRequest =
  | { cmd: 'status' }
  | { cmd: 'queue.list'; limit?: number; state?: string }
  | { cmd: 'queue.show'; id: string; body?: boolean }
  | { cmd: 'queue.stats' };

export type ControlResponse = { ok: true; result: unknown } | { ok: false; error: string };

/**
 * Handlers a module contributes to the daemon's control socket, by command name ("user.add", "dkim.list"…).
 * `req` is the request as parsed from JSON: validate every field you read; a throw becomes {ok:false}.
 */
export type ControlHandlers = Record<string, (req: Record<string, unknown>) => Promise<unknown>>;

/** Requests are tiny; anything longer than this is not a Tern CLI talking. */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** JSON with Dates as ISO strings and bytes as base64, so the CLI can print or re-parse results. */
export function encodeResponse(res: ControlResponse): string {
  return (
    JSON.stringify(res, (_key, value: unknown) => {
      if (value instanceof Uint8Array) return { base64: Buffer.from(value).toString('base64') };
      return value;
    }) + '\n'
  );
}
