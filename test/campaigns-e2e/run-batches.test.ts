import { expect } from 'chai';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { beginTransaction } from '../../src/db/tx.ts';
import { settled, testEngine, until, type TestEngine } from '../helpers/engine.ts';
import { seedLeads, type SeedLead } from '../helpers/seed.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const SECRET = 'run-batches-test-secret-of-32-characters';

/** Leads of every kind a run meets: personas and locales, consent given, never confirmed, withdrawn, no address. */
function mixedLeads(count: number): SeedLead[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `b-${i}`,
    email: i % 17 === 5 ? null : `b${i}@example.com`,
    first: `B${i}`,
    locale: i % 3 === 0 ? 'de' : null,
    orders: i % 4 === 0 ? 12 : 1,
    consent:
      i % 11 === 3 ? (['grant'] as const) : i % 13 === 7 ? (['grant', 'confirm', 'withdraw'] as const) : (['grant', 'confirm'] as const),
  }));
}

/** What a run recorded, per lead, without what differs between two runs (ids of rows, instants). */
async function recordedMessages(t: TestEngine): Promise<unknown[]> {
  const { rows } = await t.database.pool.query(
    `SELECT l.external_id, m.status, m.reason, m.persona, m.template, m.to_address, m.subject, m.body_text, m.body_html, m.headers,
            m.consent_event_id IS NOT NULL AS has_consent_event, e.status AS enrollment
       FROM messages m JOIN leads l ON l.id = m.lead_id JOIN enrollments e ON e.id = m.enrollment_id
      ORDER BY l.external_id`,
  );
  return rows;
}

describe('a run recorded in batches', function () {
  this.timeout(120_000);
  const engines: TestEngine[] = [];
  let sink: SmtpSink | undefined;

  afterEach(async () => {
    for (const t of engines.splice(0)) await t.close();
    await sink?.close();
    sink = undefined;
  });

  it('records the same messages in many small batches, several at once, as in one batch', async () => {
    const results = [];
    for (const batch of ['7', '1000']) {
      const t = await testEngine({ RUN_BATCH_SIZE: batch, TOUCHPOINT_SECRET: SECRET });
      engines.push(t);
      await seedLeads(t.database, mixedLeads(120));
      const set = t.engine.loadCampaigns();
      const { counts } = await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence: 'o', trigger: 'manual' });
      results.push({ counts, messages: await recordedMessages(t) });
    }
    const [small, whole] = results;
    expect(small!.messages).to.have.length(120);
    expect(small!.counts).to.deep.equal(whole!.counts);
    expect(small!.messages).to.deep.equal(whole!.messages);
    // The mix reached every outcome it was made for.
    const statuses = new Set((small!.messages as { status: string; reason: string | null }[]).map((m) => `${m.status}:${m.reason}`));
    expect([...statuses].sort()).to.include.members([
      'queued:null',
      'suppressed:no_address',
      'suppressed:unconfirmed',
      'suppressed:withdrawn',
    ]);
  });

  it('sends a message recorded in an early batch while later batches are still being recorded', async () => {
    sink = await startSmtpSink();
    const t = await testEngine({ SMTP_URL: sink.url, RUN_BATCH_SIZE: '5' });
    engines.push(t);
    await seedLeads(t.database, mixedLeads(60));
    await t.engine.startDispatcher();
    // The last lead's row is held: the batch that records its message waits, and so does the end of the run.
    const hold = await beginTransaction(t.database.pool);
    let runEnded = false;
    try {
      await hold.client.query(`SELECT 1 FROM leads WHERE external_id = 'b-59' FOR UPDATE`);
      const set = t.engine.loadCampaigns();
      const run = t.engine.run(requireCampaign(set, 'spring'), set, { occurrence: 'o', trigger: 'manual' });
      void run.then(() => (runEnded = true));
      await until(async () => (sink!.messages.length > 0 ? true : undefined));
      expect(runEnded).to.equal(false);
      const first = sink.messages[0]!;
      expect(first.to && 'value' in first.to ? first.to.value[0]!.address : '').to.match(/^b\d+@example\.com$/);
      await hold.commit();
      await run;
    } finally {
      await hold.rollback();
    }
    const summary = await settled(t, 'spring', 'o');
    await until(async () => (sink!.messages.length >= summary.sent ? true : undefined));
    expect(summary.sent).to.equal(sink.messages.length);
  });
});
