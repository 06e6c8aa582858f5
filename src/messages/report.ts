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

const SUMMARY = statement(
  'messages.delivery-summary',
  `SELECT CASE WHEN status = 'queued' AND attempts > 0 THEN 'retrying'
               WHEN status = 'queued' AND due_at > $3 THEN 'scheduled' ELSE status END AS status,
          reason, count(*)::int AS n, count(*) FILTER (WHERE possible_duplicate)::int AS dup
     FROM messages WHERE campaign_id = $1 AND occurrence = $2
    GROUP BY 1, 2`,
);

/** Where the messages of one campaign occurrence stand. */
export async function deliverySummary(db: Queryable, campaignId: string, occurrence: string, now: Date): Promise<DeliverySummary> {
  const { rows } = await db.query<{ status: keyof DeliverySummary; reason: string | null; n: number; dup: number }>(SUMMARY, [
    campaignId,
    occurrence,
    now,
  ]);
  const summary: DeliverySummary = {
    queued: 0,
    retrying: 0,
    scheduled: 0,
    sending: 0,
    sent: 0,
    failed: 0,
    suppressed: 0,
    possibleDuplicates: 0,
    reasons: {},
  };
  for (const row of rows) {
    (summary[row.status] as number) += row.n;
    if (row.status === 'sent') summary.possibleDuplicates += row.dup;
    if (row.reason && (row.status === 'suppressed' || row.status === 'failed'))
      summary.reasons[row.reason] = (summary.reasons[row.reason] ?? 0) + row.n;
  }
  return summary;
}

/** Nothing due is left to send: what remains waits for a window or cap on purpose. */
export function isSettled(summary: DeliverySummary): boolean {
  return summary.queued === 0 && summary.sending === 0 && summary.retrying === 0;
}
