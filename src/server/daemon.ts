// `tern serve`: wires config, lock, store, queue intake, SMTP listeners, console and control socket, and stops them in order.
import * as tls from 'node:tls';
import * as path from 'node:path';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../lib/log.ts';
import { matcher } from '../lib/cidr.ts';
import { lockDataDir } from '../control/lock.ts';
import { serveControl } from '../control/server.ts';
import type { ControlHandlers, ControlRequest } from '../control/protocol.ts';
import { openStore, type Store } from '../store/open.ts';
import { migrate } from '../store/migrate.ts';
import { createIntake } from '../queue/intake.ts';
import { createQueueReader } from '../queue/repo.ts';
import { createDirectory } from '../delivery/local/directory.ts';
import { startDelivery } from '../delivery/setup.ts';
import type { QueueReader, RecipientState } from '../queue/types.ts';
import { newQueueId } from '../smtp/queue-id.ts';
import { createApp } from '../web/app.ts';
import { serveHttp, type HttpListener } from '../runtime/http.ts';
import { loadOrCreateCertificate } from './certificate.ts';
import { InflightBudget } from './limits.ts';
import { listenerSessionOptions, sessionOptionsFrom } from './session-options.ts';
import { createPolicy } from '../policy/index.ts';
import { type BoundListener, type ListenerSpec, SmtpServer } from './smtp-server.ts';
import { parseHostPort } from '../lib/hostport.ts';
import { VERSION } from '../version.ts';
import { createResolver } from '../dns/resolver.ts';
import { createAuthenticator } from '../auth/authenticator.ts';
import { createUserControl } from '../auth/control.ts';
import { aliasAwareAuthenticator, aliasOwners } from '../auth/alias-senders.ts';
import { createDkimSigner } from '../dkim/signer.ts';
import { dkimControlHandlers } from '../dkim/control.ts';
import { createInboundChecker } from '../inbound/checker.ts';
import { submitControlHandlers, submitRequestBytes } from '../submit/control.ts';
import { createPipeline } from './pipeline.ts';

export interface Daemon {
  listeners: BoundListener[];
  console: { port: number } | null;
  store: Store;
  /** Resolves when fully stopped (after stop() or a fatal error). */
  stopped: Promise<void>;
  stop(reason: string): Promise<void>;
}

const CERT_WARN_MS = 14 * 24 * 3600 * 1000;
const RECIPIENT_STATES: readonly RecipientState[] = ['queued', 'deferred', 'delivered', 'bounced', 'held'];

/** Addresses were validated when the config loaded; a failure here is a bug, so it throws. */
function hostPort(text: string): { host: string; port: number } {
  const r = parseHostPort(text);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

function listenerSpecs(config: Config): ListenerSpec[] {
  const specs: ListenerSpec[] = [];
  for (const kind of ['mx', 'submission', 'submissions'] as const) {
    const address = config.listeners[kind].address;
    if (address) specs.push({ kind, ...hostPort(address) });
  }
  return specs;
}

/**
 * Start-up order matters: the lock comes first (nothing may touch the data directory before we own it),
 * the store is migrated before any listener accepts, and stop() runs the same steps backwards so the last
 * acknowledged message is committed before the database closes.
 */
export async function startDaemon(config: Config, log: Logger, notes: string[] = []): Promise<Daemon> {
  // Handlers for the control socket beyond the queue's, filled as the parts that own them start.
  const control: ControlHandlers = {};
  const started = Date.now();
  const lock = await lockDataDir(config.dataDir);
  const cleanups: Array<() => Promise<void>> = [() => lock.release()];
  const unwind = async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch((e) => log.error('stop-step-failed', { error: String(e) }));
  };
  try {
    const cert = await loadOrCreateCertificate({
      certFile: config.tls.certFile,
      keyFile: config.tls.keyFile,
      dataDir: config.dataDir,
      hostname: config.hostname,
    });
    if (cert.selfSigned) notes.push(`self-signed certificate ${cert.path} (sha256 ${cert.fingerprint})`);
    else if (cert.notAfter.getTime() - Date.now() < CERT_WARN_MS) {
      // Renewal is the operator's (or their ACME client's) job; an expired certificate fails every STARTTLS.
      log.warn('certificate-expiring', { path: cert.path, notAfter: cert.notAfter.toISOString() });
    }
    const secureContext = tls.createSecureContext({ key: cert.key, cert: cert.cert });

    const store = await openStore({ url: config.database.url, dataDir: config.dataDir, poolSize: config.database.poolSize });
    cleanups.push(() => store.close());
    await migrate(store);
    const intake = createIntake(store);
    cleanups.push(async () => {
      await intake.close();
      const c = intake.counters;
      // How well group commit worked over the daemon's life: messages per transaction is the figure to watch.
      log.info('intake', { messages: c.messages, batches: c.batches, rejected: c.rejected, dbMs: Math.round(c.dbMs) });
    });
    const reader = createQueueReader(store);
    const directory = createDirectory(config.domains, config.relay.localDomains);
    const isTrusted = matcher(config.relay.trustedNetworks);
    // Inbound checks and anti-abuse look names up through Tern's resolver (the delivery engine has its own).
    const resolver = createResolver({ servers: config.dns.servers, timeout: config.dns.timeout, attempts: config.dns.attempts });
    cleanups.push(async () => resolver.close());

    const authenticator = createAuthenticator({ store, config: config.auth, log });
    Object.assign(control, createUserControl({ store, invalidate: (name) => authenticator.invalidate(name) }));
    const signer = createDkimSigner({ store, signedHeaders: config.dkim.signedHeaders, log });
    Object.assign(control, dkimControlHandlers(store, () => signer.invalidate()));
    const authservId = config.inbound.authservId || config.hostname;
    const inbound = config.inbound.checks
      ? createInboundChecker({
          resolver,
          hostname: config.hostname,
          authservId,
          dmarcFor: (domain) => {
            const own = config.domains[domain]?.dmarc;
            return own === 'record' || own === 'enforce' ? own : config.inbound.dmarc;
          },
          log,
        })
      : undefined;
    // Everything that enqueues (SMTP sessions, `tern sendmail`) goes through one pipeline: checks for
    // strangers' mail, a DKIM signature for ours. The delivery engine's DSNs go straight to the intake.
    const pipeline = createPipeline({ intake, inbound, signer: config.dkim.sign ? signer : undefined, isTrusted, log });
    Object.assign(
      control,
      submitControlHandlers(
        { queue: pipeline, hostname: config.hostname, maxMessageSize: config.smtp.maxMessageSize, now: () => new Date(), newQueueId },
        log,
      ),
    );
    if (config.delivery.enabled) {
      const delivery = await startDelivery(config, { store, intake, directory, log });
      cleanups.push(() => delivery.stop(config.limits.shutdownGrace));
    } else {
      notes.push('delivery is disabled on this node (delivery.enabled = false): it only accepts mail');
    }

    const policy = createPolicy({ config, store, resolver, log });
    cleanups.push(async () => policy.close());
    const localRecipient = (local: string, domain: string) => directory.accepts(local, domain);
    const server = new SmtpServer({
      listeners: listenerSpecs(config),
      context: {
        options: { ...sessionOptionsFrom(config, true), localRecipient },
        // AUTH and the policy stages differ by listener (AUTH on submission, anti-abuse on MX).
        listenerOptions: listenerSessionOptions(config, true, { localRecipient }),
        // A user may send as the aliases that deliver to it, not only as its own addresses (issue 4).
        authenticator: aliasAwareAuthenticator(authenticator, aliasOwners(config.domains, directory)),
        policy,
        greetDelay: config.abuse.greetDelay,
        deps: { now: () => new Date(), newQueueId },
        queue: pipeline,
        log,
        commandTimeout: config.smtp.commandTimeout,
        dataTimeout: config.smtp.dataTimeout,
        secureContext,
        budget: new InflightBudget(config.limits.maxInflightBytes),
        isTrusted,
      },
      maxConnections: config.limits.maxConnections,
      maxConnectionsPerIp: config.limits.maxConnectionsPerIp,
      tlsKeyCert: { key: cert.key, cert: cert.cert },
      log,
    });
    const listeners = await server.start();
    cleanups.push(() => server.stop(config.limits.shutdownGrace));

    const status = async () => ({
      version: VERSION,
      pid: process.pid,
      hostname: config.hostname,
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
      database: store.kind,
      connections: server.connectionCount,
      listeners,
      queue: await reader.stats(),
    });
    let httpListener: HttpListener | null = null;
    if (config.console.address) {
      const { host, port } = hostPort(config.console.address);
      httpListener = serveHttp(createApp({ status }).fetch, host, port);
      const l = httpListener;
      cleanups.push(() => l.close());
    }
    serveControl(
      lock.server,
      (req) => {
        const extra = control[req.cmd];
        return extra ? extra(req as unknown as Record<string, unknown>) : handleControl(req, reader, status);
      },
      log,
      submitRequestBytes(config.smtp.maxMessageSize),
    );

    let resolveStopped!: () => void;
    const stopped = new Promise<void>((r) => (resolveStopped = r));
    let stopping: Promise<void> | null = null;
    const daemon: Daemon = {
      listeners,
      console: httpListener ? { port: httpListener.port } : null,
      store,
      stopped,
      stop: (reason) =>
        (stopping ??= (async () => {
          log.info('stopping', { reason, connections: server.connectionCount });
          await unwind();
          log.info('stopped', {});
          resolveStopped();
        })()),
    };
    for (const note of notes) log.info('note', { note });
    log.info('ready', {
      version: VERSION,
      hostname: config.hostname,
      database: store.kind === 'pglite' ? `embedded PGlite in ${path.join(config.dataDir, 'pglite')}` : 'postgres',
      ...Object.fromEntries(listeners.map((l) => [l.kind, `${l.address}:${l.port}`])),
      ...(httpListener ? { console: `${hostPort(config.console.address).host}:${httpListener.port}` } : {}),
      ms: Date.now() - started,
    });
    return daemon;
  } catch (err) {
    await unwind();
    throw err;
  }
}

async function handleControl(req: ControlRequest, reader: QueueReader, status: () => Promise<unknown>): Promise<unknown> {
  switch (req.cmd) {
    case 'status':
      return status();
    case 'queue.stats':
      return reader.stats();
    case 'queue.list': {
      const state = req.state as RecipientState | undefined;
      if (state !== undefined && !RECIPIENT_STATES.includes(state)) throw new Error(`unknown state ${state}`);
      return reader.list({ limit: Math.min(Math.max(req.limit ?? 100, 1), 10_000), state });
    }
    case 'queue.show': {
      const msg = await reader.get(req.id, { withBody: req.body === true });
      if (!msg) throw new Error(`no message ${req.id} in the queue`);
      return msg;
    }
    default:
      throw new Error(`unknown control command ${(req as { cmd: string }).cmd}`);
  }
}
