import { expect } from 'chai';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { settled, testEngine, until, type TestEngine } from '../helpers/engine.ts';
import { confirmedLeads, seedLeads } from '../helpers/seed.ts';
import { recipient, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const LEADS = 150;

describe('an SMTP server going away mid-send', function () {
  this.timeout(90_000);
  let t: TestEngine;
  let sink: SmtpSink;
  let port: number;

  before(async () => {
    sink = await startSmtpSink({ delayMs: 5, closeTimeoutMs: 50 });
    port = Number(new URL(sink.url).port);
    // Two attempts and an hour's backoff: without the circuit, the outage would fail messages or
    // leave them waiting long after the server is back.
    t = await testEngine({
      SMTP_URL: sink.url,
      DISPATCH_CONCURRENCY: '3',
      DISPATCH_MAX_ATTEMPTS: '2',
      DISPATCH_RETRY_BASE_MS: '3600000',
      DISPATCH_CIRCUIT_FAILURES: '3',
      DISPATCH_CIRCUIT_PROBE_MS: '100',
    });
    await seedLeads(t.database, confirmedLeads(LEADS, 'o'));
  });
  after(async () => {
    await t.close();
    await sink.close();
  });

  it('pauses the channel without spending attempts, and drains the backlog as soon as the server is back', async () => {
    await t.engine.startDispatcher();
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence: 'outage', trigger: 'manual' });
    await until(async () => (sink.messages.length >= 30 ? true : undefined));

    const before = sink;
    await before.close();
    // Long enough for every lane to fail and for many probes; nothing must be spent meanwhile.
    await new Promise((r) => setTimeout(r, 1_500));
    const { rows: during } = await t.database.pool.query<{ attempts: number }>(
      `SELECT coalesce(sum(attempts), 0)::int AS attempts FROM messages WHERE occurrence = 'outage' AND status = 'queued'`,
    );
    sink = await startSmtpSink({ delayMs: 5, port, closeTimeoutMs: 50 });
    const back = Date.now();
    const summary = await settled(t, 'spring', 'outage', 30_000);
    const drained = Date.now() - back;

    expect(summary).to.include({ sent: LEADS, failed: 0 });
    // At most the sends cut when the server went away were counted; a refused connection is no attempt.
    expect(during[0]!.attempts).to.be.at.most(3);
    // Not one hour's backoff: the backlog went out at once.
    expect(drained, 'ms from the return to the last send').to.be.below(15_000);
    const copies = new Set([...before.messages, ...sink.messages].map(recipient));
    expect(copies.size).to.equal(LEADS);
  });
});
