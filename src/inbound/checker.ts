// Inbound checks on mail from the Internet: SPF, DKIM, ARC and DMARC through mailauth, our
// Authentication-Results on top, and the DMARC disposition (accept, reject or hold) the recipients asked for.
//
// The caller decides which mail is checked: only messages that arrived on the MX listener from a client that
// is neither in the trusted networks nor authenticated. Mail we originate, or relay for our own users, is
// signed instead; checking it would only report SPF failures for our own submission clients.
import { type MailauthResolver, mailauthResolver } from '../dkim/resolver-adapter.ts';
import type { Resolver } from '../dns/types.ts';
import { isDomainName } from '../lib/domain.ts';
import type { Logger } from '../lib/log.ts';
import type { ConnectionInfo, Envelope, HostReply } from '../smtp/types.ts';
import { enforceStrictAlignment } from './alignment.ts';
import { authResultsField, countForged, stripForged } from './authres.ts';
import { prependField } from './headers.ts';
import { type DmarcOutcome, runDmarc, runMailauth, runSpf, type SpfOutcome } from './mailauth.ts';
import { dmarcDisposition, type DmarcFacts, type DmarcMode, strictestMode } from './policy.ts';

export type InboundResult =
  | { action: 'accept'; message: Uint8Array } // Authentication-Results prepended
  | { action: 'reject'; reply: HostReply; message: Uint8Array } // DMARC p=reject under 'enforce': 550 5.7.1
  | { action: 'hold'; reason: string; message: Uint8Array }; // DMARC p=quarantine under 'enforce'

export interface InboundCheckerDeps {
  /** Every lookup goes through Tern's resolver (servers, timeouts and cache from configuration). */
  resolver: Resolver;
  /** Our name: SPF's %{r} macro and the comments of the results. */
  hostname: string;
  /** The authserv-id of our Authentication-Results (RFC 8601 §2.5); forged fields bearing it are removed. */
  authservId: string;
  /** The DMARC handling a recipient domain asked for (DomainConfig.dmarc, else inbound.dmarc). */
  dmarcFor(recipientDomain: string): DmarcMode;
  log: Logger;
  /**
   * Milliseconds the checks may take in all (default 30 s): SPF alone may make 10 lookups with their own
   * timeouts (RFC 7208 §4.6.4) while the client waits for the reply to DATA. Past it: temperror, accept.
   */
  deadline?: number;
  /** For pct= sampling (RFC 7489 §6.6.4); default Math.random. */
  random?: () => number;
}

export interface InboundChecker {
  /**
   * Never throws and never rejects for a temporary reason: a check that fails or times out is reported as
   * temperror and the message accepted. `message` is the stored message (our Received first).
   */
  check(input: { envelope: Envelope; message: Uint8Array; conn: ConnectionInfo }): Promise<InboundResult>;
}

export const DEFAULT_DEADLINE = 30_000;

/** What one evaluation found: the Authentication-Results rows and the facts DMARC enforcement needs. */
interface Evaluation {
  rows: string[];
  facts: DmarcFacts;
  summary: Record<string, string>;
}

/** RFC 8601 §2.7.2: an SPF result names the identity it checked; "mailfrom" without the local-part. */
function spfRow(result: SpfOutcome | null, identity: 'mailfrom' | 'helo', value: string): string | null {
  if (!result) return null;
  const comment = result.status.comment ? ` (${result.status.comment.replace(/[\\()]/g, (c) => `\\${c}`)})` : '';
  return `spf=${result.status.result}${comment} smtp.${identity}=${pvalue(value)}`;
}

/** A pvalue (RFC 8601 §2.2): the text as a token, or quoted (an address literal HELO has "[" and "]"). */
function pvalue(text: string): string {
  // deno-lint-ignore no-control-regex -- the control characters are what a token must not contain
  return /^[^\x00-\x20()<>,;:\\"/[\]?=\x7f]+$/.test(text) ? text : `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

const domainOf = (address: string): string => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

async function evaluate(
  message: Uint8Array,
  envelope: Envelope,
  conn: ConnectionInfo,
  deps: InboundCheckerDeps,
  dns: MailauthResolver,
): Promise<Evaluation> {
  const helo = envelope.helo;
  const common = { ip: conn.remoteAddress, helo, mta: deps.hostname, dns };
  // RFC 7208 §2.3: check HELO separately too (recorded only). With a null reverse-path, the MAIL FROM check
  // already is the HELO check (postmaster@HELO, RFC 7208 §2.4), which mailauth does itself.
  const checkHelo = envelope.sender !== '' && isDomainName(helo);
  const [auth, heloSpf] = await Promise.all([
    runMailauth({ ...common, message, sender: envelope.sender }),
    checkHelo ? runSpf({ ...common, sender: `postmaster@${helo}` }) : Promise.resolve(null),
  ]);
  const fromDomains = [...new Set(auth.headerFrom.map(domainOf))];
  const spfPassDomain = auth.spf && auth.spf.status.result === 'pass' ? auth.spf.domain : null;
  const dkimPassDomains = auth.dkim.filter((r) => r.status.result === 'pass').map((r) => r.signingDomain);
  // mailauth leaves DMARC out when the From field has several addresses; when they share one domain there is
  // still exactly one domain to evaluate (RFC 7489 §6.6.1), so evaluate it as authenticate() would.
  let dmarcResult: DmarcOutcome | null = auth.dmarc;
  if (!dmarcResult && fromDomains.length === 1 && auth.headerFrom.length > 1) {
    dmarcResult = await runDmarc({
      from: auth.headerFrom[0],
      spfDomains: spfPassDomain === null ? [] : [spfPassDomain],
      dkimDomains: dkimPassDomains,
      dns,
    });
  }
  if (dmarcResult) {
    dmarcResult = enforceStrictAlignment(dmarcResult, {
      fromDomain: fromDomains[0] ?? '',
      spfPassDomain,
      dkimPassDomains,
    });
  }
  const rows = [
    ...auth.dkim.map((r) => r.info),
    spfRow(
      auth.spf,
      envelope.sender === '' ? 'helo' : 'mailfrom',
      envelope.sender === '' ? helo : domainOf(envelope.sender),
    ),
    spfRow(heloSpf, 'helo', helo),
    auth.arc?.info ?? null,
    dmarcResult ? dmarcResult.info : fromDomains.length > 1 ? 'dmarc=permerror (several From domains)' : null,
  ].filter((r): r is string => typeof r === 'string' && r !== '');
  const temporary = auth.spf?.status.result === 'temperror' || auth.dkim.some((r) => r.status.result === 'temperror');
  return {
    rows,
    facts: {
      result: dmarcResult ? dmarcResult.status.result : fromDomains.length > 1 ? 'permerror' : '',
      policy: dmarcResult?.policy ?? 'none',
      pct: dmarcResult?.pct,
      fromDomain: fromDomains[0] ?? '',
      severalFrom: fromDomains.length > 1,
      temporary,
    },
    summary: {
      spf: auth.spf ? auth.spf.status.result : 'none',
      helo: heloSpf ? heloSpf.status.result : '-',
      dkim: auth.dkim.map((r) => `${r.status.result}:${r.signingDomain || '-'}`).join(','),
      arc: auth.arc ? auth.arc.status.result : 'none',
      dmarc: dmarcResult ? `${dmarcResult.status.result} p=${dmarcResult.policy ?? '-'}` : '-',
    },
  };
}

/** Rows for when the checks could not finish: every method a temperror (RFC 8601 §2.7.1, §2.7.2). */
const TEMPERROR_ROWS = [
  'dkim=temperror (checks failed)',
  'spf=temperror (checks failed)',
  'dmarc=temperror (checks failed)',
];

class DeadlineExceeded extends Error {}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(`inbound checks took longer than ${ms} ms`)), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

export function createInboundChecker(deps: InboundCheckerDeps): InboundChecker {
  const dns = mailauthResolver(deps.resolver);
  const deadline = deps.deadline ?? DEFAULT_DEADLINE;
  return {
    async check({ envelope, message, conn }) {
      const log = deps.log.child({ queueId: envelope.queueId });
      // RFC 8601 §5: forged results bearing our authserv-id go before anything is evaluated, so the
      // signatures are verified on the message as it will be stored (a signature covering a forged field
      // then fails, which RFC 8601 §5 calls desirable).
      const forged = countForged(message, deps.authservId);
      const clean = forged > 0 ? stripForged(message, deps.authservId) : message;
      if (forged > 0) log.info('inbound.forged_results_removed', { count: forged });
      const mode = strictestMode(envelope.recipients, deps.dmarcFor, deps.hostname);
      let evaluation: Evaluation;
      try {
        evaluation = await withDeadline(evaluate(clean, envelope, conn, deps, dns), deadline);
      } catch (err) {
        // Exceptions here are bugs or a deadline: never a reason to lose the message.
        log.error('inbound.check_failed', { error: err, mode });
        return { action: 'accept', message: prependField(clean, authResultsField(deps.authservId, TEMPERROR_ROWS)) };
      }
      // RFC 8601 §4: added at the top, above our own Received ("above any other trace header fields").
      const stamped = prependField(clean, authResultsField(deps.authservId, evaluation.rows));
      const d = dmarcDisposition(evaluation.facts, mode, deps.random);
      log.info('inbound.checked', { ...evaluation.summary, mode, action: d.action, why: d.why });
      switch (d.action) {
        case 'accept':
          return { action: 'accept', message: stamped };
        case 'reject':
          return { action: 'reject', reply: d.reply, message: stamped };
        case 'hold':
          return { action: 'hold', reason: d.reason, message: stamped };
      }
    },
  };
}
