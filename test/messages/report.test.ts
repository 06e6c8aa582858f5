import { expect } from 'chai';
import fc from 'fast-check';
import type { Database } from '../../src/db/index.ts';
import { campaignReport, emptyFigures, type Figures } from '../../src/campaigns/report.ts';
import { deliverySummary, emptySummary, foldCampaignCounts, foldCounts, type DeliverySummary } from '../../src/messages/report.ts';
import { freshDatabase } from '../helpers/db.ts';

/**
 * The report reads counts that statement triggers keep (migration 0017) instead of the messages.
 * Held here against what the report computed before, from every message row, after any sequence of
 * the kinds of statement the engine runs on messages.
 */
const NOW = new Date('2026-03-01T12:00:00Z');

/** The report of before: every message of the occurrence read and grouped. */
async function scannedSummary(db: Database, campaign: string, occurrence: string): Promise<DeliverySummary> {
  const { rows } = await db.pool.query<{ status: keyof DeliverySummary; reason: string | null; n: number; dup: number }>(
    `SELECT CASE WHEN status = 'queued' AND attempts > 0 THEN 'retrying'
                 WHEN status = 'queued' AND due_at > $3 THEN 'scheduled' ELSE status END AS status,
            reason, count(*)::int AS n, count(*) FILTER (WHERE possible_duplicate)::int AS dup
       FROM messages WHERE campaign_id = $1 AND occurrence = $2 GROUP BY 1, 2`,
    [campaign, occurrence, NOW],
  );
  const summary = emptySummary();
  for (const row of rows) {
    (summary[row.status] as number) += row.n;
    if (row.status === 'sent') summary.possibleDuplicates += row.dup;
    if (row.reason && (row.status === 'suppressed' || row.status === 'failed'))
      summary.reasons[row.reason] = (summary.reasons[row.reason] ?? 0) + row.n;
  }
  return summary;
}

/** The splits of the campaign report of before: every message of the campaign (or occurrence) read and grouped. */
async function scannedSplits(db: Database, campaign: string, occurrence: string | null) {
  const { rows } = await db.pool.query<{
    step: string;
    persona: string;
    channel: string;
    day: string;
    status: string;
    reason: string | null;
    delivered: boolean;
  }>(
    `SELECT step_id AS step, persona, channel, to_char(coalesce(sent_at, created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, status, reason,
            status = 'sent' AND (channel = 'email' OR delivery_status = 'delivered') AS delivered
       FROM messages WHERE campaign_id = $1 AND ($2::text IS NULL OR occurrence = $2) ORDER BY id`,
    [campaign, occurrence],
  );
  const split = (key: 'step' | 'persona' | 'channel' | 'day') => {
    const figures = new Map<string, Figures>();
    for (const row of rows) {
      const f = figures.get(row[key]) ?? emptyFigures();
      figures.set(row[key], f);
      f.recorded++;
      if (row.status === 'sent') f.sent++;
      if (row.delivered) f.delivered++;
      if (row.status === 'failed' || row.status === 'suppressed') f[row.status][row.reason!] = (f[row.status][row.reason!] ?? 0) + 1;
    }
    return [...figures.keys()].sort().map((k) => ({ [key]: k, ...figures.get(k)! }));
  };
  return { steps: split('step'), by_persona: split('persona'), by_channel: split('channel'), by_day: split('day') };
}

/**
 * One statement of each kind the engine runs on messages: recording (some suppressed, some due
 * later), then on the rows of one slice of ids (id % 4 = slice, or all but it) of a campaign.
 */
const inSlice = (status: string) => `status = '${status}' AND campaign_id = $1 AND id % 4 = $2`;
const outOfSlice = (status: string) => `status = '${status}' AND campaign_id = $1 AND id % 4 <> $2`;
const CHANGES = {
  claim: `UPDATE messages SET status = 'sending', claimed_by = 1 WHERE ${outOfSlice('queued')}`,
  sent: `UPDATE messages SET status = 'sent', sent_at = now() WHERE ${outOfSlice('sending')}`,
  retry: `UPDATE messages SET status = 'queued', claimed_by = NULL, attempts = attempts + 1, due_at = now() + interval '1 hour' WHERE ${inSlice('sending')}`,
  release: `UPDATE messages SET status = 'queued', claimed_by = NULL, attempts = greatest(attempts - 1, 0) WHERE ${inSlice('sending')}`,
  deadDispatcher: `UPDATE messages SET status = 'queued', claimed_by = NULL, possible_duplicate = true WHERE ${outOfSlice('sending')}`,
  failed: `UPDATE messages SET status = 'failed', reason = CASE WHEN id % 2 = 0 THEN 'rejected' ELSE 'bounced' END WHERE ${inSlice('sending')}`,
  withdrawn: `UPDATE messages SET status = 'suppressed', reason = 'withdrawn' WHERE ${inSlice('queued')}`,
  delivery: `UPDATE messages SET delivery_status = 'delivered', reason = 'not counted' WHERE status IN ('sent', 'queued') AND campaign_id = $1 AND id % 4 = $2`,
  erase: `DELETE FROM messages WHERE status <> 'sending' AND campaign_id = $1 AND id % 4 = $2`,
} as const;
const RECORD = `INSERT INTO messages (idempotency_key, campaign_id, step_id, occurrence, lead_id, channel, purpose, persona, status, reason, due_at, created_at)
  SELECT $1 || ':' || i, $2, CASE WHEN i % 2 = 0 THEN 'offer' ELSE 'reminder' END, CASE WHEN i % 5 = 0 THEN 'other' ELSE 'o' END, 1 + i % 3,
         CASE WHEN i % 3 = 1 THEN 'sms' ELSE 'email' END, 'marketing', CASE WHEN i % 7 < 3 THEN 'regular' ELSE 'new' END,
         CASE WHEN i % 4 = 0 THEN 'suppressed' ELSE 'queued' END, CASE WHEN i % 4 = 0 THEN 'no_consent' END,
         CASE WHEN i % 3 = 0 THEN $3::timestamptz + interval '1 day' ELSE $3::timestamptz - interval '1 minute' END, $3::timestamptz
    FROM generate_series(1, 7 + $4::int) AS i`;
const STEPS = ['record', 'fold', ...Object.keys(CHANGES)] as ('record' | 'fold' | keyof typeof CHANGES)[];

describe('campaign report from kept counts', function () {
  this.timeout(60_000);
  let db: Database;

  before(async () => {
    db = await freshDatabase();
    await db.pool.query(
      `INSERT INTO leads (external_id, email) SELECT 'l' || i, 'l' || i || '@example.com' FROM generate_series(1, 3) AS i`,
    );
  });
  after(async () => {
    await db.close();
  });

  it('gives the figures of a scan of the messages, also split by step, persona, channel and day, after any sequence of recording, claims, sends, retries, withdrawals and erasure', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ step: fc.constantFrom(...STEPS), slice: fc.integer({ min: 0, max: 3 }) }), {
          minLength: 1,
          maxLength: 14,
        }),
        async (steps) => {
          const campaign = `c${++run}`;
          for (const [i, { step, slice }] of steps.entries()) {
            if (step === 'fold') await (slice % 2 ? foldCounts(db.pool, campaign, 'o') : foldCampaignCounts(db.pool, campaign));
            else if (step === 'record') await db.pool.query(RECORD, [`${campaign}:${i}`, campaign, NOW, slice]);
            else await db.pool.query(CHANGES[step], [campaign, slice]);
          }
          for (const occurrence of ['o', 'other']) {
            expect(await deliverySummary(db.pool, campaign, occurrence, NOW)).to.deep.equal(await scannedSummary(db, campaign, occurrence));
          }
          for (const occurrence of [null, 'o']) {
            if (occurrence && !(await db.pool.query(`SELECT 1 FROM messages WHERE campaign_id = $1`, [campaign])).rowCount) continue;
            const request = { campaignId: campaign, occurrence, goal: null, defined: true, stepOrder: [] };
            const { steps, by_persona, by_channel, by_day } = await campaignReport(db.pool, request);
            expect({ steps, by_persona, by_channel, by_day }).to.deep.equal(await scannedSplits(db, campaign, occurrence));
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('folds many deltas into one row per key without changing the figures', async () => {
    for (let i = 0; i < 120; i++) await db.pool.query(RECORD, [`f:${i}`, 'fold', NOW, 0]);
    for (let slice = 0; slice < 4; slice++) await db.pool.query(CHANGES.release.replace("'sending'", "'queued'"), ['fold', slice]);
    const before = await scannedSummary(db, 'fold', 'o');
    const count = async () =>
      (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM message_counts WHERE campaign_id = 'fold' AND occurrence = 'o'`))
        .rows[0]!.n;
    expect(await count()).to.be.above(200);
    expect(await deliverySummary(db.pool, 'fold', 'o', NOW)).to.deep.equal(before);
    const keys = await db.pool.query(
      `SELECT DISTINCT status, attempts > 0, reason, step_id, persona, channel, created_at FROM messages WHERE campaign_id = 'fold' AND occurrence = 'o'`,
    );
    expect(await count()).to.be.at.most(keys.rowCount!);
    expect(await deliverySummary(db.pool, 'fold', 'o', NOW)).to.deep.equal(before);
  });

  it('folds the deltas of an event campaign, a few in each of its many occurrences, when its report reads them', async () => {
    for (let i = 0; i < 250; i++) {
      await db.pool.query(
        `INSERT INTO messages (idempotency_key, campaign_id, step_id, occurrence, lead_id, channel, purpose, persona, status, created_at)
         VALUES ($1, 'event', 'hello', $1, 1, 'email', 'marketing', 'regular', 'queued', $2)`,
        [`e:${i}`, NOW],
      );
    }
    await db.pool.query(`UPDATE messages SET status = 'sent', sent_at = $1 WHERE campaign_id = 'event'`, [NOW]);
    const count = async () =>
      (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM message_counts WHERE campaign_id = 'event'`)).rows[0]!.n;
    expect(await count()).to.equal(750);
    const request = { campaignId: 'event', occurrence: null, goal: null, defined: true, stepOrder: [] };
    const before = await campaignReport(db.pool, request);
    expect(before.steps).to.deep.equal([{ step: 'hello', ...emptyFigures(), recorded: 250, sent: 250, delivered: 250 }]);
    expect(await count()).to.equal(250);
    expect(await campaignReport(db.pool, request)).to.deep.equal(before);
  });

  it('starts again from nothing when the messages are truncated', async () => {
    await db.pool.query('TRUNCATE messages CASCADE');
    expect((await db.pool.query('SELECT 1 FROM message_counts')).rowCount).to.equal(0);
  });
});
