import type pg from 'pg';

export interface DeliverySummary {
  queued: number;
  sending: number;
  sent: number;
  failed: number;
  suppressed: number;
  possibleDuplicates: number;
  /** Suppression and failure reasons with their counts. */
  reasons: Record<string, number>;
}

/** Where the messages of one campaign occurrence stand. */
export async function deliverySummary(pool: pg.Pool, campaignId: string, occurrence: string): Promise<DeliverySummary> {
  const { rows } = await pool.query<{ status: keyof DeliverySummary; reason: string | null; n: number; dup: number }>(
    `SELECT status, reason, count(*)::int AS n, count(*) FILTER (WHERE possible_duplicate)::int AS dup
       FROM messages WHERE campaign_id = $1 AND occurrence = $2
      GROUP BY status, reason`,
    [campaignId, occurrence],
  );
  const summary: DeliverySummary = { queued: 0, sending: 0, sent: 0, failed: 0, suppressed: 0, possibleDuplicates: 0, reasons: {} };
  for (const row of rows) {
    (summary[row.status] as number) += row.n;
    if (row.status === 'sent') summary.possibleDuplicates += row.dup;
    if (row.reason) summary.reasons[row.reason] = (summary.reasons[row.reason] ?? 0) + row.n;
  }
  return summary;
}

export function isSettled(summary: DeliverySummary): boolean {
  return summary.queued === 0 && summary.sending === 0;
}
