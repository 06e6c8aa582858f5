import type pg from 'pg';
import { consentVerdict, UNGATED_PURPOSES } from '../consent/check.ts';
import type { Channel } from '../campaigns/types.ts';

/** Namespace of the advisory locks that tell live dispatchers from dead ones. */
export const WORKER_LOCK_NAMESPACE = 7_245_002;

export interface ClaimedMessage {
  id: number;
  leadId: number;
  purpose: string;
  channel: Channel;
  toAddress: string;
  subject: string;
  bodyText: string;
  bodyHtml: string;
  headers: Record<string, string>;
  attempts: number;
}

interface ClaimedRow {
  id: number;
  lead_id: number;
  channel: Channel;
  purpose: string;
  to_address: string;
  subject: string;
  body_text: string;
  body_html: string;
  headers: Record<string, string>;
  attempts: number;
  consent_status: 'granted' | 'confirmed' | 'withdrawn' | null;
  consent_event_id: number | null;
}

/**
 * Claims up to `limit` due messages for `worker` in one statement, reading consent as of now: a
 * withdrawal that committed before this claim suppresses the row instead of sending it (a second
 * statement, only when that happens). SKIP LOCKED lets any number of dispatchers claim side by
 * side without waiting on each other.
 */
export async function claimDueMessages(pool: pg.Pool, worker: number, limit: number, now: Date): Promise<ClaimedMessage[]> {
  const { rows } = await pool.query<ClaimedRow>(
    `WITH due AS (
       SELECT id FROM messages WHERE status = 'queued' AND due_at <= $2
        ORDER BY due_at, id LIMIT $1 FOR UPDATE SKIP LOCKED
     ), consent AS (
       SELECT d.id, cs.status, cs.deciding_event_id
         FROM due d JOIN messages m ON m.id = d.id
         LEFT JOIN consent_state cs ON cs.lead_id = m.lead_id AND cs.channel = m.channel AND cs.purpose = m.purpose
     )
     UPDATE messages m
        SET status = 'sending', claimed_by = $3, claimed_at = $2, attempts = m.attempts + 1, consent_event_id = c.deciding_event_id
       FROM consent c
      WHERE m.id = c.id
     RETURNING m.id, m.lead_id, m.channel, m.purpose, m.to_address, m.subject, m.body_text, m.body_html, m.headers, m.attempts,
               c.status AS consent_status, c.deciding_event_id AS consent_event_id`,
    [limit, now, worker],
  );
  const claimed: ClaimedMessage[] = [];
  const refused: { id: number; reason: string }[] = [];
  for (const row of rows) {
    const state = row.consent_status ? { status: row.consent_status, decidingEventId: row.consent_event_id! } : undefined;
    const verdict = UNGATED_PURPOSES.has(row.purpose) ? ({ allowed: true } as const) : consentVerdict(state, row.channel, row.purpose);
    if (!verdict.allowed) {
      refused.push({ id: row.id, reason: verdict.reason });
      continue;
    }
    claimed.push({
      id: row.id,
      leadId: row.lead_id,
      purpose: row.purpose,
      channel: row.channel,
      toAddress: row.to_address,
      subject: row.subject,
      bodyText: row.body_text,
      bodyHtml: row.body_html,
      headers: row.headers,
      attempts: row.attempts,
    });
  }
  if (refused.length > 0) {
    await pool.query(
      `UPDATE messages m SET status = 'suppressed', reason = r.reason, consent_event_id = NULL, claimed_by = NULL,
              attempts = m.attempts - 1
         FROM unnest($2::bigint[], $3::text[]) AS r(id, reason)
        WHERE m.id = r.id AND m.claimed_by = $1`,
      [worker, refused.map((r) => r.id), refused.map((r) => r.reason)],
    );
  }
  return claimed;
}

/** Records provider acceptance for many messages in one statement. */
export async function markSent(pool: pg.Pool, worker: number, sent: { id: number; providerId: string }[], now: Date): Promise<number> {
  const { rowCount } = await pool.query(
    `UPDATE messages m SET status = 'sent', provider_id = s.provider_id, sent_at = $4, last_error = NULL
       FROM unnest($2::bigint[], $3::text[]) AS s(id, provider_id)
      WHERE m.id = s.id AND m.claimed_by = $1 AND m.status = 'sending'`,
    [worker, sent.map((s) => s.id), sent.map((s) => s.providerId), now],
  );
  return rowCount ?? 0;
}

/** Hands back claimed messages that were never attempted (a dispatcher stopping). */
export async function releaseClaims(pool: pg.Pool, worker: number, ids: number[]): Promise<void> {
  await pool.query(
    `UPDATE messages SET status = 'queued', claimed_by = NULL, attempts = attempts - 1
      WHERE id = ANY($2::bigint[]) AND claimed_by = $1 AND status = 'sending'`,
    [worker, ids],
  );
}

export async function markRetry(pool: pg.Pool, worker: number, id: number, error: string, retryAt: Date): Promise<void> {
  await pool.query(
    `UPDATE messages SET status = 'queued', claimed_by = NULL, last_error = $3, due_at = $4
      WHERE id = $2 AND claimed_by = $1 AND status = 'sending'`,
    [worker, id, error, retryAt],
  );
}

export async function markFailed(pool: pg.Pool, worker: number, id: number, reason: string, error: string): Promise<void> {
  await pool.query(
    `UPDATE messages SET status = 'failed', reason = $3, last_error = $4
      WHERE id = $2 AND claimed_by = $1 AND status = 'sending'`,
    [worker, id, reason, error],
  );
}

/**
 * Puts back the rows of dispatchers that died mid-send. A dispatcher holds a session advisory lock
 * for its whole life, so a lock we can take belongs to a dead process. Its rows may or may not have
 * reached the provider: they are sent again and marked `possible_duplicate`.
 */
export async function reclaimFromDeadWorkers(lockClient: pg.Client, self: number, now: Date): Promise<number> {
  const { rows } = await lockClient.query<{ claimed_by: number }>(
    `SELECT DISTINCT claimed_by FROM messages WHERE status = 'sending' AND claimed_by <> $1`,
    [self],
  );
  let reclaimed = 0;
  for (const { claimed_by: worker } of rows) {
    const { rows: lock } = await lockClient.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [
      WORKER_LOCK_NAMESPACE,
      worker,
    ]);
    if (!lock[0]!.ok) continue;
    try {
      const { rowCount } = await lockClient.query(
        `UPDATE messages SET status = 'queued', claimed_by = NULL, possible_duplicate = true, due_at = $2
          WHERE status = 'sending' AND claimed_by = $1`,
        [worker, now],
      );
      reclaimed += rowCount ?? 0;
    } finally {
      await lockClient.query('SELECT pg_advisory_unlock($1, $2)', [WORKER_LOCK_NAMESPACE, worker]);
    }
  }
  return reclaimed;
}

/** Whether any dispatcher is alive on this database (any process holding a worker lock). */
export async function dispatcherAlive(pool: pg.Pool): Promise<boolean> {
  const { rowCount } = await pool.query(
    `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND granted LIMIT 1`,
    [WORKER_LOCK_NAMESPACE],
  );
  return (rowCount ?? 0) > 0;
}
