import type pg from 'pg';
import { CHANNELS, type Channel } from '../channels/channel.ts';
import { LOCKS, lockHeld, tryLockForSession, unlockSession } from '../db/locks.ts';
import { statement, type Queryable } from '../db/statement.ts';

/**
 * Claiming is taking due messages for one dispatcher; a claim is not a send. A claimed message is
 * `sending` with `claimed_by` set and no `attempted_at` until its send starts (attempt.ts), so a
 * claim can be handed back, or taken from a dead dispatcher, as if it had never been made.
 */
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
  /** Sends started before this claim (each counted when it starts). */
  attempts: number;
  /** When it was due (its send time, or its retry's), and when the event arrived that it is the first message of: for the latency metrics. */
  dueAt: Date;
  eventAt: Date | null;
}

const CLAIM = statement(
  'messages.claim-due',
  `WITH due AS (
     SELECT id FROM messages WHERE status = 'queued' AND due_at <= $2 AND channel = ANY($4::text[])
      ORDER BY due_at, id LIMIT $1 FOR UPDATE SKIP LOCKED
   )
   UPDATE messages m SET status = 'sending', claimed_by = $3, claimed_at = $2
     FROM due WHERE m.id = due.id
   RETURNING m.id, m.lead_id AS "leadId", m.channel, m.purpose, m.to_address AS "toAddress", m.subject, m.body_text AS "bodyText",
             m.body_html AS "bodyHtml", m.headers, m.attempts, m.due_at AS "dueAt",
             (SELECT ev.received_at FROM enrollments en JOIN events ev ON ev.id = en.trigger_event_id
               WHERE en.id = m.enrollment_id
                 AND NOT EXISTS (SELECT 1 FROM messages p WHERE p.lead_id = m.lead_id AND p.enrollment_id = m.enrollment_id AND p.id < m.id)
             ) AS "eventAt"`,
);

// Statements that lock several rows take them in id order (see attempt.ts).
// A send that started and was never settled (its start's answer lost with the connection) did not
// leave either: the dispatcher hands back only what it never gave to the provider.
const RELEASE = statement(
  'messages.release-claims',
  `WITH mine AS (SELECT id FROM messages WHERE id = ANY($2::bigint[]) AND claimed_by = $1 AND status = 'sending' ORDER BY id FOR UPDATE)
   UPDATE messages m SET status = 'queued', claimed_by = NULL, attempted_at = NULL, attempts = attempts - (attempted_at IS NOT NULL)::int
     FROM mine WHERE m.id = mine.id`,
);

// After its session was cut, a dispatcher may hold claims it never heard of (the answer to its
// claim was lost): every claim of its whose send has not started and that it does not hold.
const RELEASE_UNKNOWN = statement(
  'messages.release-unknown-claims',
  `WITH lost AS (
     SELECT id FROM messages WHERE claimed_by = $1 AND status = 'sending' AND attempted_at IS NULL AND id <> ALL($2::bigint[])
      ORDER BY id FOR UPDATE
   )
   UPDATE messages m SET status = 'queued', claimed_by = NULL FROM lost WHERE m.id = lost.id`,
);

const MAKE_DUE = statement(
  'messages.make-due',
  `WITH waiting AS (SELECT id FROM messages WHERE id = ANY($1::bigint[]) AND status = 'queued' AND due_at > $2 ORDER BY id FOR UPDATE)
   UPDATE messages m SET due_at = $2 FROM waiting WHERE m.id = waiting.id`,
);

const ANALYZE = statement('messages.analyze', `ANALYZE messages`);

const CLAIMANTS = statement(
  'messages.other-claimants',
  `SELECT DISTINCT claimed_by FROM messages WHERE status = 'sending' AND claimed_by <> $1`,
);
const REQUEUE_OF = statement(
  'messages.requeue-claims-of',
  `WITH dead AS (SELECT id, attempted_at IS NOT NULL AS started FROM messages WHERE status = 'sending' AND claimed_by = $1 ORDER BY id FOR UPDATE)
   UPDATE messages m SET status = 'queued', claimed_by = NULL, possible_duplicate = possible_duplicate OR dead.started,
          attempted_at = NULL, due_at = $2
     FROM dead WHERE m.id = dead.id
   RETURNING dead.started`,
);

/**
 * Claims up to `limit` messages due by `now` on the given channels for `worker`, in one statement.
 * SKIP LOCKED lets any number of dispatchers claim side by side without waiting on each other.
 * Consent is not read here but when each send starts (attempt.ts).
 */
export async function claimDueMessages(
  db: Queryable,
  worker: number,
  limit: number,
  now: Date,
  channels: readonly Channel[] = CHANNELS,
): Promise<ClaimedMessage[]> {
  const { rows } = await db.query<ClaimedMessage>(CLAIM, [limit, now, worker, channels]);
  return rows;
}

/**
 * Refreshes the planner's statistics of the outbox. A claim reads its batch off the front of the
 * index on queued rows only when the planner knows there are many of them; with the statistics of
 * a table that was nearly empty (autovacuum analyzes it a minute or more after a large run), it
 * fetched and sorted every queued row for each claim of 200, and at 20,000 queued that took most of
 * a core. The estimate scales with the table's size from there, so one refresh early in a large
 * recording and one at its end are enough.
 */
export async function analyzeOutbox(db: Queryable): Promise<void> {
  await db.query(ANALYZE);
}

/** Hands back claimed messages whose send never started (a dispatcher stopping, a channel pausing). */
export async function releaseClaims(db: Queryable, worker: number, ids: number[]): Promise<void> {
  if (ids.length > 0) await db.query(RELEASE, [worker, ids]);
}

/** Hands back `worker`'s claims whose send has not started, except those it `holds`. */
export async function releaseUnknownClaims(db: Queryable, worker: number, holds: number[]): Promise<number> {
  const { rowCount } = await db.query(RELEASE_UNKNOWN, [worker, holds]);
  return rowCount ?? 0;
}

/** Makes queued messages due at `now` that wait for a later retry (their channel is back). */
export async function makeDue(db: Queryable, ids: number[], now: Date): Promise<number> {
  if (ids.length === 0) return 0;
  const { rowCount } = await db.query(MAKE_DUE, [ids, now]);
  return rowCount ?? 0;
}

/**
 * Puts back the rows of dispatchers that died mid-send. A dispatcher holds a session advisory lock
 * for its whole life, so a lock we can take belongs to a dead process. A row whose send had started
 * may or may not have reached the provider: it is sent again and marked `possible_duplicate`. A
 * row that was only claimed goes back as it was.
 */
export async function reclaimFromDeadWorkers(
  lockClient: pg.Client,
  self: number,
  now: Date,
): Promise<{ requeued: number; flagged: number }> {
  const { rows } = await lockClient.query<{ claimed_by: number }>(CLAIMANTS, [self]);
  const reclaimed = { requeued: 0, flagged: 0 };
  for (const { claimed_by: worker } of rows) {
    if (!(await tryLockForSession(lockClient, LOCKS.dispatcher, worker))) continue;
    try {
      const { rows: requeued } = await lockClient.query<{ started: boolean }>(REQUEUE_OF, [worker, now]);
      reclaimed.requeued += requeued.length;
      reclaimed.flagged += requeued.filter((r) => r.started).length;
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
