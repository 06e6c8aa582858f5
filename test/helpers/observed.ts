import path from 'node:path';
import { testEngine, type TestEngine } from './engine.ts';
import { apiKeyFor } from './keys.ts';
import { seedLeads, type SeedLead } from './seed.ts';
import { startSmtpSink, type SmtpSink } from './smtp.ts';
import { startWeb, type TestWeb } from './web.ts';

/** The fixture of the observability tests (test/observability/): a lead campaign, an event campaign, two reply queues. */
export const OBSERVE_FIXTURE = path.resolve('test/fixtures/observe');

/** Three who get the offer, one the server refuses for good, one it refuses for now, two without consent. */
export const OBSERVED_LEADS: SeedLead[] = [
  ...['ok-1', 'ok-2', 'ok-3'].map((id) => ({
    id,
    email: `${id}@example.com`,
    first: id,
    locale: null,
    orders: 1,
    consent: ['grant', 'confirm'] as const,
  })),
  { id: 'bounce', email: 'bounce@example.com', first: 'Bo', locale: null, orders: 1, consent: ['grant', 'confirm'] },
  { id: 'flaky', email: 'flaky@example.com', first: 'Fl', locale: null, orders: 1, consent: ['grant', 'confirm'] },
  { id: 'unconfirmed', email: 'unconfirmed@example.com', first: 'Un', locale: null, orders: 1, consent: ['grant'] },
  { id: 'never', email: 'never@example.com', first: 'Ne', locale: null, orders: 1, consent: [] },
];

/** Like real servers, the refusals quote the address (the log must not). */
export function observedSink(): Promise<SmtpSink> {
  return startSmtpSink({
    refuse: (rcpt) =>
      rcpt === 'bounce@example.com'
        ? { code: 550, message: `5.1.1 <${rcpt}>: Recipient address rejected` }
        : rcpt === 'flaky@example.com'
          ? { code: 451, message: `4.3.0 <${rcpt}>: try again later` }
          : undefined,
  });
}

/** An engine serving HTTP at its PUBLIC_URL, sending to `sink`, with its scheduler running; two attempts per message. */
export async function observedEngine(sink: SmtpSink): Promise<{ t: TestEngine; web: TestWeb; key: string }> {
  const web = await startWeb();
  const t = await testEngine({
    PUBLIC_URL: web.base,
    SMTP_URL: sink.url,
    CAMPAIGNS_DIR: path.join(OBSERVE_FIXTURE, 'campaigns'),
    TEMPLATES_DIR: path.join(OBSERVE_FIXTURE, 'templates'),
    DISPATCH_MAX_ATTEMPTS: '2',
  });
  web.serve(t.engine);
  await t.engine.startScheduler();
  await seedLeads(t.database, OBSERVED_LEADS);
  return { t, web, key: await apiKeyFor(t.database, 'admin') };
}

export async function api(web: TestWeb, key: string, method: string, route: string, body?: unknown): Promise<Response> {
  return fetch(`${web.base}/api/v1${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}
