import type pg from 'pg';
import type { Channel } from '../channels/channel.ts';
import { consentVerdict, UNGATED_PURPOSES, type ConsentStatus } from '../consent/state.ts';
import { LOCKS, lockHeld, tryLockForSession, unlockSession } from '../db/locks.ts';
import { statement, type Queryable } from '../db/statement.ts';
import { messageMetrics } from './metrics.ts';

export interface ClaimedMessage {
  id: number;
  leadId: number;
  purpose: string;
  channel: Channel;
  /** Null only when the person was erased while this message was in flight. */
  toAddress: string | null;
  subject: string;
  bodyText: string;
  bodyHtml: string;
  headers: Record<string, string>;
  attempts: number;
}

const CLAIM = statement(
  'messages.claim-due',
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
   RETURNING m.id, m.lead_id AS "leadId", m.channel, m.purpose, m.to_address AS "toAddress", m.subject, m.body_text AS "bodyText",
             m.body_html AS "bodyHtml", m.headers, m.attempts, c.status AS consent_status, c.deciding_event_id AS consent_event_id`,
);

const SUPPRESS_REFUSED = statement(
  'messages.suppress-refused-claims',
  `UPDATE messages m SET status = 'suppressed', reason = r.reason, consent_event_id = NULL, claimed_by = NULL,
          attempts = m.attempts - 1
     FROM unnest($2::bigint[], $3::text[]) AS r(id, reason)
    WHERE m.id = r.id AND m.claimed_by = $1`,
);

const MARK_SENT = statement(
  'messages.mark-sent',
  `UPDATE messages m SET status = 'sent', provider_id = s.provider_id, sent_at = $4, last_error = NULL
     FROM unnest($2::bigint[], $3::text[]) AS s(id, provider_id)
    WHERE m.id = s.id AND m.claimed_by = $1 AND m.status = 'sending'`,
);

const RELEASE = statement(
  'messages.release-claims',
  `UPDATE messages SET status = 'queued', claimed_by = NULL, attempts = attempts - 1
    WHERE id = ANY($2::bigint[]) AND claimed_by = $1 AND status = 'sending'`,
);

const RETRY = statement(
  'messages.mark-retry',
  `UPDATE messages SET status = 'queued', claimed_by = NULL, last_error = $3, due_at = $4
    WHERE id = $2 AND claimed_by = $1 AND status = 'sending'`,
);

const FAIL = statement(
  'messages.mark-failed',
  `UPDATE messages SET status = 'failed', reason = $3, last_error = $4
    WHERE id = $2 AND claimed_by = $1 AND status = 'sending'`,
);

const CLAIMANTS = statement(
  'messages.other-claimants',
  `SELECT DISTINCT claimed_by FROM messages WHERE status = 'sending' AND claimed_by <> $1`,
);
const REQUEUE_OF = statement(
  'messages.requeue-claims-of',
  `UPDATE messages SET status = 'queued', claimed_by = NULL, possible_duplicate = true, due_at = $2
    WHERE status = 'sending' AND claimed_by = $1`,
);

/**
 * Claims up to `limit` due messages for `worker` in one statement, reading consent as of now: a
 * withdrawal that committed before this claim suppresses the row instead of sending it (a second
 * statement, only when that happens). SKIP LOCKED lets any number of dispatchers claim side by
 * side without waiting on each other.
 */
export async function claimDueMessages(db: Queryable, worker: number, limit: number, now: Date): Promise<ClaimedMessage[]> {
  const { rows } = await db.query<ClaimedMessage & { consent_status: ConsentStatus | null; consent_event_id: number | null }>(CLAIM, [
    limit,
    now,
    worker,
  ]);
  const claimed: ClaimedMessage[] = [];
  const refused: { id: number; reason: string }[] = [];
  for (const { consent_status: status, consent_event_id: eventId, ...message } of rows) {
    const state = status ? { status, decidingEventId: eventId! } : undefined;
    const verdict = UNGATED_PURPOSES.has(message.purpose)
      ? ({ allowed: true } as const)
      : consentVerdict(state, message.channel, message.purpose);
    if (verdict.allowed) claimed.push(message);
    else {
      refused.push({ id: message.id, reason: verdict.reason });
      messageMetrics.suppressed(message.channel, verdict.reason);
    }
  }
  if (refused.length > 0) await db.query(SUPPRESS_REFUSED, [worker, refused.map((r) => r.id), refused.map((r) => r.reason)]);
  return claimed;
}

/** Records provider acceptance for many messages in one statement. */
export async function markSent(db: Queryable, worker: number, sent: { id: number; providerId: string }[], now: Date): Promise<number> {
  const { rowCount } = await db.query(MARK_SENT, [worker, sent.map((s) => s.id), sent.map((s) => s.providerId), now]);
  return rowCount ?? 0;
}

/** Hands back claimed messages that were never attempted (a dispatcher stopping). */
export async function releaseClaims(db: Queryable, worker: number, ids: number[]): Promise<void> {
  await db.query(RELEASE, [worker, ids]);
}

export async function markRetry(db: Queryable, worker: number, id: number, error: string, retryAt: Date): Promise<void> {
  await db.query(RETRY, [worker, id, error, retryAt]);
}

export async function markFailed(db: Queryable, worker: number, id: number, reason: string, error: string): Promise<void> {
  await db.query(FAIL, [worker, id, reason, error]);
}

/**
 * Puts back the rows of dispatchers that died mid-send. A dispatcher holds a session advisory lock
 * for its whole life, so a lock we can take belongs to a dead process. Its rows may or may not have
 * reached the provider: they are sent again and marked `possible_duplicate`.
 */
export async function reclaimFromDeadWorkers(lockClient: pg.Client, self: number, now: Date): Promise<number> {
  const { rows } = await lockClient.query<{ claimed_by: number }>(CLAIMANTS, [self]);
  let reclaimed = 0;
  for (const { claimed_by: worker } of rows) {
    if (!(await tryLockForSession(lockClient, LOCKS.dispatcher, worker))) continue;
    try {
      const { rowCount } = await lockClient.query(REQUEUE_OF, [worker, now]);
      reclaimed += rowCount ?? 0;
    } finally {
      await unlockSession(lockClient, LOCKS.dispatcher, worker);
    }
  }
  return reclaimed;
}

/** Whether any dispatcher is alive on this database (any process holding a worker lock). */
export async function dispatcherAlive(db: Queryable): Promise<boolean> {
  return lockHeld(db, LOCKS.dispatcher);
}
