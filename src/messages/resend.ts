import type pg from 'pg';
import { statement } from '../db/statement.ts';
import { inTransaction } from '../db/tx.ts';
import { readmitRefusedAddresses } from '../deliverability/bounces.ts';

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
     FROM failed WHERE m.id = failed.id
   RETURNING m.id`,
);

/**
 * Queues again, due `now`, the messages of a campaign whose send failed for good at the provider.
 * Each goes again as the same row, under its idempotency key, with a fresh count of attempts: it
 * is still delivered at most once, and consent is read again when its send starts. Its content is
 * the one recorded: these failures were the provider's answer, not the template's. An address one
 * of them made undeliverable by its refusal takes mail again (deliverability/bounces.ts).
 */
export async function resendFailedSends(
  db: pg.Pool | pg.PoolClient,
  campaignId: string,
  filter: { step?: string; reason?: string },
  now: Date,
): Promise<number> {
  return inTransaction(db, async (client) => {
    const { rows } = await client.query<{ id: number }>(RESEND, [
      campaignId,
      filter.step ?? null,
      filter.reason ?? null,
      SEND_FAILURES,
      now,
    ]);
    // A mailbox fixed is what this says: the address these messages' refusals made undeliverable takes them again.
    await readmitRefusedAddresses(
      client,
      rows.map((r) => r.id),
      now,
    );
    return rows.length;
  });
}
