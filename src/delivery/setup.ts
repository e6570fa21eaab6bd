// Builds the delivery side from configuration: resolver, MTA-STS, couriers, router, engine.
import * as os from 'node:os';
import type { Config } from '../config/schema.ts';
import { parseNextHop, parseSmarthost } from '../config/next-hop.ts';
import { createResolver } from '../dns/resolver.ts';
import type { Logger } from '../lib/log.ts';
import { createDeliveryRepo } from '../queue/delivery-repo.ts';
import type { QueueWriter } from '../queue/types.ts';
import { newQueueId } from '../smtp/queue-id.ts';
import type { Store } from '../store/open.ts';
import { createDeliveryEngine, type DeliveryEngine } from './engine.ts';
import { createLocalCourier } from './local/courier.ts';
import type { Directory } from './local/directory.ts';
import { createMtaSts } from './mta-sts.ts';
import { resolveDestination, resolveHostAddresses } from './mx.ts';
import { createRouter, type RouteRule } from './router.ts';
import { createSmtpCourier } from './smtp/courier.ts';
import type { MxResolution } from './mx.ts';

export interface Delivery {
  engine: DeliveryEngine;
  stop(graceMs: number): Promise<void>;
}

function hop(text: string, port: number, parse = parseNextHop) {
  const r = parse(text, port);
  if (!r.ok) throw new Error(r.error); // the config was validated: a failure here is a bug
  return r.value;
}

/** Rules from [[routes]] and the smarthost, in the router's terms. */
export function routerRules(config: Config): { rules: RouteRule[]; smarthost: Omit<RouteRule, 'domain'> | null } {
  const d = config.delivery;
  const rules = config.routes.map((r) => ({
    domain: r.domain,
    nextHop: hop(r.nextHop, d.smtpPort),
    tls: r.tls === '' ? null : r.tls,
    auth: r.authUser ? { user: r.authUser, password: r.authPassword } : null,
  }));
  const smarthost = d.smarthost
    ? {
        nextHop: hop(d.smarthost, d.smtpPort, parseSmarthost),
        tls: d.smarthostTls,
        auth: d.smarthostUser ? { user: d.smarthostUser, password: d.smarthostPassword } : null,
      }
    : null;
  return { rules, smarthost };
}

export async function startDelivery(
  config: Config,
  deps: { store: Store; intake: QueueWriter; directory: Directory; log: Logger },
): Promise<Delivery> {
  const d = config.delivery;
  const log = deps.log.child({ part: 'delivery' });
  const resolver = createResolver({ servers: config.dns.servers, timeout: config.dns.timeout, attempts: config.dns.attempts });
  // RFC 5321 §5.1: if we are one of a domain's MX hosts, only better-preference hosts may be used (loops).
  const localNames = [config.hostname, d.heloName].filter((n) => n !== '');
  const mx = { ipv6: d.ipv6, localNames };
  const remote = createSmtpCourier({
    heloName: d.heloName || config.hostname,
    resolveDestination: (domain) => resolveDestination(resolver, domain, mx),
    resolveHost: async (host): Promise<MxResolution> => {
      const r = await resolveHostAddresses(resolver, host, d.ipv6);
      if (r.kind === 'ok') return { kind: 'hosts', hosts: [{ name: host, preference: 0, addresses: r.addresses, implicit: false }] };
      return { kind: r.kind, status: r.kind === 'permanent' ? '5.1.2' : '4.4.3', reason: r.reason };
    },
    mtaSts: d.mtaSts ? createMtaSts({ resolver, caFile: d.caFile, log }) : null,
    caFile: d.caFile,
    connectTimeout: d.connectTimeout,
    commandTimeout: d.commandTimeout,
    dataTimeout: d.dataTimeout,
    connectionIdle: d.connectionIdle,
    log,
  });
  const repo = createDeliveryRepo(deps.store);
  const local = createLocalCourier({
    domains: config.domains,
    directory: deps.directory,
    store: deps.store,
    lmtp: () => remote, // the SMTP courier speaks LMTP for lmtp/lmtp-unix next hops
    async forward(job, recipientId, targets) {
      const original = job.recipients.find((r) => r.id === recipientId)!;
      // RFC 3461 §5.2.7.3(c): an alias with several targets has reported success itself ('expanded').
      const notify =
        targets.length > 1 && Array.isArray(original.notify)
          ? original.notify.filter((n) => n !== 'SUCCESS')
          : original.notify;
      await repo.addRecipients(job.message.id, targets, {
        address: original.address,
        notify: Array.isArray(notify) && notify.length === 0 ? 'NEVER' : notify,
      });
    },
    log,
  });
  const { rules, smarthost } = routerRules(config);
  const localDomains = new Set(config.relay.localDomains);
  const router = createRouter({
    localDomains,
    postmasterDomain: config.relay.localDomains[0] ?? config.hostname,
    rules,
    smarthost,
    defaultTls: d.tls,
    smtpPort: d.smtpPort,
  });
  const engine = createDeliveryEngine(
    {
      store: deps.store,
      repo,
      intake: deps.intake,
      router,
      remote,
      local,
      newQueueId,
      log,
      nodeId: `${os.hostname()}:${process.pid}:${Date.now().toString(36)}`,
    },
    {
      hostname: config.hostname,
      concurrency: d.concurrency,
      destinationConcurrency: d.destinationConcurrency,
      destinationRate: d.destinationRate,
      maxInflightBytes: d.maxInflightBytes,
      lease: d.lease,
      retrySchedule: d.retrySchedule,
      maxQueueLifetime: d.maxQueueLifetime,
      delayWarning: d.delayWarning,
      isLocal: (address) => localDomains.has(address.slice(address.lastIndexOf('@') + 1).toLowerCase()),
    },
  );
  await engine.start();
  return {
    engine,
    async stop(graceMs) {
      await engine.stop(graceMs);
      await remote.close();
      resolver.close();
    },
  };
}
