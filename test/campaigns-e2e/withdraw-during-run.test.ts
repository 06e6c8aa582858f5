import { expect } from 'chai';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { appendConsentEvents } from '../../src/consent/ledger.ts';
import { withTransaction } from '../../src/db/tx.ts';
import { settled, testEngine, until, type TestEngine } from '../helpers/engine.ts';
import { confirmedLeads, seedLeads } from '../helpers/seed.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

describe('withdrawal during a running campaign', function () {
  this.timeout(120_000);
  let t: TestEngine;
  let sink: SmtpSink;

  beforeEach(async () => {
    // A slow provider and small claims, so the run is still sending when people withdraw.
    sink = await startSmtpSink({ delayMs: 15 });
    t = await testEngine({ SMTP_URL: sink.url, DISPATCH_CONCURRENCY: '2', DISPATCH_BATCH_SIZE: '4' });
    await seedLeads(t.database, confirmedLeads(200, 'w'));
  });
  afterEach(async () => {
    await t.close();
    await sink.close();
  });

  it('sends nothing to a person after their withdrawal commits', async () => {
    await t.engine.startDispatcher();
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence: 'o', trigger: 'manual' });
    await until(async () => (sink.messages.length >= 20 ? true : undefined));

    // Everyone whose message is not yet sent withdraws, in one transaction, while the dispatcher works.
    const { rows: pending } = await t.database.pool.query<{ lead_id: number }>(
      `SELECT lead_id FROM messages WHERE status IN ('queued', 'sending')`,
    );
    expect(pending.length).to.be.greaterThan(50);
    await withTransaction(t.database.pool, (client) =>
      appendConsentEvents(
        client,
        pending.map((p) => ({
          leadId: Number(p.lead_id),
          channel: 'email' as const,
          purpose: 'marketing',
          action: 'withdraw' as const,
          source: 'test',
          actor: 'test',
          occurredAt: new Date(),
        })),
      ),
    );
    const committedAt = new Date();
    await settled(t, 'spring', 'o', 60_000);

    const { rows } = await t.database.pool.query<{ status: string; reason: string | null; claimed_at: Date | null; email: string }>(
      `SELECT m.status, m.reason, m.claimed_at, l.email FROM messages m JOIN leads l ON l.id = m.lead_id WHERE m.lead_id = ANY($1::bigint[])`,
      [pending.map((p) => p.lead_id)],
    );
    const sent = rows.filter((r) => r.status === 'sent');
    const stopped = rows.filter((r) => r.status === 'suppressed');
    expect(stopped.length).to.be.greaterThan(0);
    expect(stopped.every((r) => r.reason === 'withdrawn')).to.equal(true);
    // Anything that went out to them was claimed (and so on its way) before the withdrawal committed.
    for (const r of sent) expect(r.claimed_at!.getTime()).to.be.at.most(committedAt.getTime());
    const delivered = new Set(sink.messages.map((m) => (m.to && 'value' in m.to ? m.to.value[0]!.address : '')));
    for (const r of stopped) expect(delivered.has(r.email), r.email).to.equal(false);
    expect(sent.length + stopped.length).to.equal(pending.length);
  });
});
