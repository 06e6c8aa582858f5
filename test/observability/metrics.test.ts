import { spawn } from 'node:child_process';
import net from 'node:net';
import { expect } from 'chai';
import { settled, until, type TestEngine } from '../helpers/engine.ts';
import { scrape, type Scraped } from '../helpers/metrics.ts';
import { api, observedEngine, observedSink } from '../helpers/observed.ts';
import type { SmtpSink } from '../helpers/smtp.ts';
import type { TestWeb } from '../helpers/web.ts';

/** What every scrape must declare: name and type. */
const FAMILIES: Record<string, string> = {
  touchpoint_messages_total: 'counter',
  touchpoint_messages_queued_total: 'counter',
  touchpoint_message_retries_total: 'counter',
  touchpoint_messages_possible_duplicates_total: 'counter',
  touchpoint_message_dispatch_latency_seconds: 'histogram',
  touchpoint_event_to_send_seconds: 'histogram',
  touchpoint_campaign_runs_total: 'counter',
  touchpoint_inbound_contacts_total: 'counter',
  touchpoint_outbox_messages: 'gauge',
  touchpoint_outbox_oldest_due_age_seconds: 'gauge',
  touchpoint_inbound_overdue_contacts: 'gauge',
  touchpoint_scheduler_jobs: 'gauge',
  touchpoint_db_pool_connections: 'gauge',
  touchpoint_db_pool_waiting_queries: 'gauge',
  touchpoint_db_pool_max_connections: 'gauge',
  touchpoint_process_cpu_seconds_total: 'counter',
  touchpoint_process_resident_memory_bytes: 'gauge',
  touchpoint_nodejs_eventloop_lag_seconds: 'gauge',
  touchpoint_nodejs_heap_size_used_bytes: 'gauge',
};

/** Agenda's jobs of one name in any state (a repeating tick is `running` while it runs; `paused` counts them again). */
function jobsNamed(s: Scraped, name: string): number {
  const states = ['scheduled', 'queued', 'running', 'repeating', 'completed', 'failed'];
  return states.reduce((sum, state) => sum + (s.value('touchpoint_scheduler_jobs', { name, state }) ?? 0), 0);
}

/** The change of each of `series` between two scrapes (absent counts as 0). */
function deltas(before: Scraped, after: Scraped, series: Record<string, [string, Record<string, string>?]>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(series).map(([key, [name, labels]]) => [key, (after.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0)]),
  );
}

describe('observability: /metrics', function () {
  this.timeout(60_000);
  let sink: SmtpSink;
  let t: TestEngine;
  let web: TestWeb;
  let key: string;
  const metrics = () => scrape(`${web.base}/metrics`);

  before(async () => {
    sink = await observedSink();
    ({ t, web, key } = await observedEngine(sink));
  });
  after(async () => {
    await web?.close();
    await t?.close();
    await sink?.close();
  });

  it('declares every series with its type and help, prefixed, counters in _total and durations in _seconds', async () => {
    const scraped = await metrics();
    for (const [name, type] of Object.entries(FAMILIES)) {
      expect(scraped.types.get(name), name).to.equal(type);
      expect(scraped.text).to.match(new RegExp(`^# HELP ${name} \\S`, 'm'));
    }
    for (const [name, type] of scraped.types) {
      expect(name).to.match(/^touchpoint_[a-z0-9_]+$/);
      if (type === 'counter') expect(name).to.match(/_total$/);
      if (type === 'histogram') expect(name).to.match(/_seconds$/);
    }
  });

  it('counts a campaign as it is recorded, sent, refused, retried and suppressed, and shows the outbox fill and drain', async () => {
    const before = await metrics();
    const run = await api(web, key, 'POST', '/campaigns/spring/runs', { occurrence: 'metrics' });
    expect(run.status).to.equal(201);

    // Recorded, no dispatcher yet: five wait in the outbox.
    const recorded = await metrics();
    expect(recorded.value('touchpoint_outbox_messages', { state: 'due' })).to.equal(5);
    expect(recorded.value('touchpoint_outbox_messages', { state: 'sending' })).to.equal(0);
    expect(recorded.value('touchpoint_outbox_oldest_due_age_seconds')).to.be.at.least(0);

    await t.engine.startDispatcher();
    expect(await settled(t, 'spring', 'metrics')).to.include({ sent: 3, failed: 2, suppressed: 2 });
    await sink.waitFor(3);
    const email = { channel: 'email' };
    // Latencies are observed once the acceptances are recorded, just after.
    const after = await until(async () => {
      const s = await metrics();
      const observed = s.value('touchpoint_message_dispatch_latency_seconds_count', email) ?? 0;
      return observed - (before.value('touchpoint_message_dispatch_latency_seconds_count', email) ?? 0) >= 3 ? s : undefined;
    });
    expect(
      deltas(before, after, {
        queued: ['touchpoint_messages_queued_total', email],
        sent: ['touchpoint_messages_total', { ...email, outcome: 'sent', reason: '' }],
        rejected: ['touchpoint_messages_total', { ...email, outcome: 'failed', reason: 'rejected' }],
        exhausted: ['touchpoint_messages_total', { ...email, outcome: 'failed', reason: 'attempts_exhausted' }],
        unconfirmed: ['touchpoint_messages_total', { ...email, outcome: 'suppressed', reason: 'unconfirmed' }],
        noConsent: ['touchpoint_messages_total', { ...email, outcome: 'suppressed', reason: 'no_consent' }],
        retried: ['touchpoint_message_retries_total', email],
        latencies: ['touchpoint_message_dispatch_latency_seconds_count', email],
        runs: ['touchpoint_campaign_runs_total', { outcome: 'done' }],
        duplicates: ['touchpoint_messages_possible_duplicates_total'],
      }),
    ).to.deep.equal({
      queued: 5,
      sent: 3,
      rejected: 1,
      exhausted: 1,
      unconfirmed: 1,
      noConsent: 1,
      retried: 1,
      latencies: 3,
      runs: 1,
      duplicates: 0,
    });
    expect(after.value('touchpoint_outbox_messages', { state: 'due' })).to.equal(0);
    expect(after.value('touchpoint_outbox_oldest_due_age_seconds')).to.equal(0);
  });

  it('times an event to the acceptance of its first message', async () => {
    const before = await metrics();
    const sent = sink.messages.length;
    const res = await api(web, key, 'POST', '/events', { lead: 'ok-1', event: 'signed_up', properties: {} });
    expect(res.status).to.be.oneOf([200, 201, 202]);
    await sink.waitFor(sent + 1);
    const count = (s: Scraped) => s.value('touchpoint_event_to_send_seconds_count', { channel: 'email' }) ?? 0;
    const after = await until(async () => {
      const s = await metrics();
      return count(s) > count(before) ? s : undefined;
    });
    expect(count(after) - count(before)).to.equal(1);
    // The event arrived moments ago: well inside the first minute.
    expect(after.value('touchpoint_event_to_send_seconds_bucket', { channel: 'email', le: '60' })).to.equal(count(after));
  });

  it('counts replies by category and shows them overdue in their queue once their service level passed', async () => {
    const before = await metrics();
    const contact = { channel: 'email', kind: 'human', category: 'complaint' };
    await t.engine.receiveReply({
      channel: 'email',
      externalId: '<complaint-1@mail.example>',
      kind: 'human',
      from: 'ok-2@example.com',
      subject: 'Re: An offer',
      bodyText: 'I have a complaint about the offer.',
      text: 'I have a complaint about the offer.',
    });
    const counted = await metrics();
    expect(
      (counted.value('touchpoint_inbound_contacts_total', contact) ?? 0) -
        (before.value('touchpoint_inbound_contacts_total', contact) ?? 0),
    ).to.equal(1);
    expect(counted.value('touchpoint_inbound_overdue_contacts', { queue: 'sales' })).to.equal(0);
    // The queue answers within one second; then the contact is overdue.
    await until(
      async () => ((await metrics()).value('touchpoint_inbound_overdue_contacts', { queue: 'service' }) === 1 ? true : undefined),
      10_000,
    );
  });

  it("shows Agenda's jobs by name and state, and the pool", async () => {
    const s = await metrics();
    expect(jobsNamed(s, 'sequences-tick')).to.equal(1);
    expect(jobsNamed(s, 'inbound-escalate')).to.equal(1);
    expect(s.value('touchpoint_db_pool_max_connections')).to.equal(10);
    const open =
      (s.value('touchpoint_db_pool_connections', { state: 'busy' }) ?? 0) +
      (s.value('touchpoint_db_pool_connections', { state: 'idle' }) ?? 0);
    expect(open).to.be.within(1, 10);
    expect(s.value('touchpoint_db_pool_waiting_queries')).to.be.at.least(0);
  });

  it('a worker serves the metrics of its own process on WORKER_HTTP_PORT', async () => {
    const port = await freePort();
    const worker = spawn(process.execPath, ['bin/touchpoint.js', 'worker'], {
      env: { ...process.env, ...t.env, WORKER_HTTP_PORT: String(port), LOG_LEVEL: 'error' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    worker.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exited = new Promise<number | null>((resolve) => worker.once('exit', resolve));
    try {
      // The listener answers from the start; the scheduler's jobs show once it has started.
      const s = await until(async () => {
        const scraped = await scrape(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
        return scraped && jobsNamed(scraped, 'sequences-tick') > 0 ? scraped : undefined;
      }, 30_000);
      expect(s.value('touchpoint_outbox_messages', { state: 'due' })).to.equal(0);
      expect(jobsNamed(s, 'sequences-tick')).to.equal(1);
      expect(s.types.get('touchpoint_messages_total')).to.equal('counter');
      expect((await fetch(`http://127.0.0.1:${port}/api/v1/leads`)).status, 'only metrics are served there').to.equal(404);
    } finally {
      worker.kill('SIGTERM');
    }
    expect(await exited, stderr).to.equal(0);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
    probe.once('error', reject);
  });
}
