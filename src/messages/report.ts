import { statement, type Queryable } from '../db/statement.ts';

export interface DeliverySummary {
  /** Queued and due now. */
  queued: number;
  /** Failed transiently, waiting for another attempt. */
  retrying: number;
  /** Queued for later by a send window or a frequency cap. */
  scheduled: number;
  sending: number;
  sent: number;
  failed: number;
  suppressed: number;
  possibleDuplicates: number;
  /** Suppression and failure reasons with their counts. */
  reasons: Record<string, number>;
}

/** A summary of no messages. */
export function emptySummary(): DeliverySummary {
  return { queued: 0, retrying: 0, scheduled: 0, sending: 0, sent: 0, failed: 0, suppressed: 0, possibleDuplicates: 0, reasons: {} };
}

const COUNTS = statement(
  'messages.delivery-counts',
  `SELECT state, reason, possible_duplicate AS dup, sum(n)::int AS n, count(*)::int AS deltas
     FROM message_counts WHERE campaign_id = $1 AND occurrence = $2
    GROUP BY 1, 2, 3`,
);

/** Queued, never attempted, and due later: a time-dependent split the counts cannot keep; read from the partial index on queued rows. */
const SCHEDULED = statement(
  'messages.delivery-scheduled',
  `SELECT count(*)::int AS n FROM messages
    WHERE status = 'queued' AND due_at > $3 AND attempts = 0 AND campaign_id = $1 AND occurrence = $2`,
);

/**
 * Folds up to `$3` of the deltas of one occurrence into one row per key. Safe beside writers and
 * other folds: a delta is deleted by one fold at most, which puts its count back in the same commit,
 * so every snapshot sums to the same figures.
 */
const FOLD = statement(
  'messages.fold-counts',
  `WITH gone AS (
     DELETE FROM message_counts
      WHERE ctid = ANY(ARRAY(SELECT ctid FROM message_counts WHERE campaign_id = $1 AND occurrence = $2 LIMIT $3))
     RETURNING state, reason, possible_duplicate, step_id, persona, channel, day, delivered, lead_id, n)
   INSERT INTO message_counts (campaign_id, occurrence, state, reason, possible_duplicate, step_id, persona, channel, day, delivered, lead_id, n)
   SELECT $1, $2, state, reason, possible_duplicate, step_id, persona, channel, day, delivered, min(lead_id), sum(n) FROM gone
    GROUP BY state, reason, possible_duplicate, step_id, persona, channel, day, delivered HAVING sum(n) <> 0`,
);

/** FOLD over every occurrence of a campaign: an event campaign has one per enrollment, each with a few deltas. */
const FOLD_CAMPAIGN = statement(
  'messages.fold-campaign-counts',
  `WITH gone AS (
     DELETE FROM message_counts
      WHERE ctid = ANY(ARRAY(SELECT ctid FROM message_counts WHERE campaign_id = $1 LIMIT $2))
     RETURNING occurrence, state, reason, possible_duplicate, step_id, persona, channel, day, delivered, lead_id, n)
   INSERT INTO message_counts (campaign_id, occurrence, state, reason, possible_duplicate, step_id, persona, channel, day, delivered, lead_id, n)
   SELECT $1, occurrence, state, reason, possible_duplicate, step_id, persona, channel, day, delivered, min(lead_id), sum(n) FROM gone
    GROUP BY occurrence, state, reason, possible_duplicate, step_id, persona, channel, day, delivered HAVING sum(n) <> 0`,
);

/**
 * At most this many deltas are folded per report, so that no report waits long for its fold: a
 * campaign sent while nobody looked leaves about 0.7 delta a message (dispatchers record outcomes in
 * small groups), and `run --wait`, reading every second, folds faster than sending adds them.
 */
const FOLD_BATCH = 20_000;

/** A report that summed more delta rows than this folds them, so the next one reads a handful. */
export const FOLD_ABOVE = 200;

/**
 * Where the messages of one campaign occurrence stand, from the counts that statement triggers keep
 * (message_counts, migration 0017) and the few queued messages due later: a report costs the same
 * at a million messages as at ten, and never reads the messages of the campaign one by one.
 */
export async function deliverySummary(db: Queryable, campaignId: string, occurrence: string, now: Date): Promise<DeliverySummary> {
  const [counts, scheduled] = await Promise.all([
    db.query<{ state: keyof DeliverySummary; reason: string | null; dup: boolean; n: number; deltas: number }>(COUNTS, [
      campaignId,
      occurrence,
    ]),
    db.query<{ n: number }>(SCHEDULED, [campaignId, occurrence, now]),
  ]);
  const summary = { ...emptySummary(), scheduled: scheduled.rows[0]!.n };
  let deltas = 0;
  for (const row of counts.rows) {
    deltas += row.deltas;
    (summary[row.state] as number) += row.n;
    if (row.dup) summary.possibleDuplicates += row.n;
    if (row.reason) summary.reasons[row.reason] = (summary.reasons[row.reason] ?? 0) + row.n;
  }
  summary.queued -= summary.scheduled;
  for (const [reason, n] of Object.entries(summary.reasons)) if (n === 0) delete summary.reasons[reason];
  if (deltas > FOLD_ABOVE) await foldCounts(db, campaignId, occurrence);
  return summary;
}

/** Folds count deltas of one occurrence (up to FOLD_BATCH) into one row per key (the sums stay the same). */
export async function foldCounts(db: Queryable, campaignId: string, occurrence: string): Promise<void> {
  await db.query(FOLD, [campaignId, occurrence, FOLD_BATCH]);
}

/** Folds count deltas of a campaign's occurrences (up to FOLD_BATCH) into one row per occurrence and key. */
export async function foldCampaignCounts(db: Queryable, campaignId: string): Promise<void> {
  await db.query(FOLD_CAMPAIGN, [campaignId, FOLD_BATCH]);
}

/** Nothing due is left to send: what remains waits for a window or cap on purpose. */
export function isSettled(summary: DeliverySummary): boolean {
  return summary.queued === 0 && summary.sending === 0 && summary.retrying === 0;
}
