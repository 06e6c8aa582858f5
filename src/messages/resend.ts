import { statement, type Queryable } from '../db/statement.ts';

/** Why a send failed for good at the provider: what a fix outside the engine (a mailbox, a domain, the server) may cure. */
export const SEND_FAILURES = ['rejected', 'attempts_exhausted'] as const;

// Rows whose send started and failed for good; a render failure never started (sequences/retry.ts
// records those again), nor did an erased person's message (it must stay unsent).
const RESEND = statement(
  'messages.resend-failed-sends',
  `WITH failed AS (
     SELECT id FROM messages
      WHERE campaign_id = $1 AND status = 'failed' AND attempted_at IS NOT NULL AND reason = ANY($4::text[])
        AND ($2::text IS NULL OR step_id = $2) AND ($3::text IS NULL OR reason = $3)
      ORDER BY id FOR UPDATE SKIP LOCKED
   )
   UPDATE messages m SET status = 'queued', reason = NULL, attempts = 0, due_at = $5, claimed_by = NULL, attempted_at = NULL
     FROM failed WHERE m.id = failed.id`,
);

/**
 * Queues again, due `now`, the messages of a campaign whose send failed for good at the provider.
 * Each goes again as the same row, under its idempotency key, with a fresh count of attempts: it
 * is still delivered at most once, and consent is read again when its send starts. Its content is
 * the one recorded: these failures were the provider's answer, not the template's.
 */
export async function resendFailedSends(
  db: Queryable,
  campaignId: string,
  filter: { step?: string; reason?: string },
  now: Date,
): Promise<number> {
  const { rowCount } = await db.query(RESEND, [campaignId, filter.step ?? null, filter.reason ?? null, SEND_FAILURES, now]);
  return rowCount ?? 0;
}
