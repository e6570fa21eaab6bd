// Shared pieces of the local delivery tests: jobs, domain settings, a recording LMTP courier, a log sink.
import type { DomainConfig } from '../../../../src/config/schema.ts';
import { DEFAULT_DOMAIN } from '../../../../src/delivery/local/directory.ts';
import type {
  Courier,
  DeliveryJob,
  DeliveryReport,
  JobRecipient,
  RecipientResult,
} from '../../../../src/delivery/types.ts';
import { createLogger, type Logger } from '../../../../src/lib/log.ts';

export const domain = (over: Partial<DomainConfig>): DomainConfig => ({ ...DEFAULT_DOMAIN, ...over });

export const MESSAGE = 'From: s@sender.example\r\nSubject: local test\r\n\r\nhello\r\n';

let nextId = 100;

/** A local-route job for these recipients (ids from 100 up), as the engine would build it. */
export function localJob(
  recipients: Array<string | Partial<JobRecipient>>,
  body = MESSAGE,
  sender = 's@sender.example',
): DeliveryJob {
  return {
    message: {
      id: `Q${(nextId++).toString(36)}`,
      sender,
      size: body.length,
      bodyType: null,
      smtpUtf8: false,
      dsnRet: null,
      dsnEnvid: null,
      receivedAt: new Date('2024-05-01T10:00:00Z'),
    },
    recipients: recipients.map((r) => ({
      id: nextId++,
      notify: null,
      orcpt: null,
      ...(typeof r === 'string' ? { address: r } : { address: '', ...r }),
    })),
    route: { key: 'local', domain: 'example.com', nextHop: { kind: 'local' }, tls: 'none', auth: null },
    body: new TextEncoder().encode(body),
  };
}

/** Log lines, parsed from JSON, for assertions about what operators see. */
export function recordingLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({ format: 'json', level: 'debug', write: (l) => lines.push(JSON.parse(l)) });
  return { log, lines };
}

export type LmtpAnswer = (address: string) => Partial<RecipientResult>;

/** A fake LMTP courier: records each target and job, answers per recipient (default 250 2.1.5). */
export function fakeLmtp(answer: LmtpAnswer = () => ({})) {
  const calls: Array<{ target: string; job: DeliveryJob }> = [];
  const factory = (target: string): Courier => ({
    deliver(job): Promise<DeliveryReport> {
      calls.push({ target, job });
      const results = new Map<number, RecipientResult>();
      for (const r of job.recipients) {
        results.set(r.id, {
          outcome: 'delivered',
          status: '2.1.5',
          reply: `250 2.1.5 <${r.address}> delivered`,
          replyType: 'smtp',
          remote: 'lmtp.test [127.0.0.1]:24',
          dsnRelayed: false,
          ...answer(r.address),
        });
      }
      const attempts = [{
        host: 'lmtp.test',
        ip: '127.0.0.1',
        port: 24,
        tls: null,
        replies: ['220 ready'],
        error: null,
      }];
      return Promise.resolve({ results, attempts });
    },
  });
  return { factory, calls };
}
