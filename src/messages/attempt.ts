import { refusalSql } from '../consent/state.ts';
import { statement, type Queryable } from '../db/statement.ts';
import { BOUNCED, undeliverableSql } from '../deliverability/state.ts';

/**
 * The send of a claimed message, from its start to its outcome. A send is identified by its
 * dispatcher (`claimed_by`) and the instant it started (`attempted_at`): every outcome is recorded
 * only on the row of that very send, so nothing is recorded twice, nor on a row that another
 * dispatcher took back in the meantime.
 *
 * Statements that lock several message rows and may wait for them take them in id order (a CTE
 * with ORDER BY id FOR UPDATE): dispatchers and consent changes then never deadlock.
 */

/** A send the provider accepted, waiting to be recorded. */
export interface Accepted {
  id: number;
  startedAt: Date;
  providerId: string;
}

/** What starting a send found: go ahead, or why not (the row changed under the claim). */
export type Start =
  { go: true; attempts: number } | { go: false; status: 'suppressed' | 'failed'; reason: string } | { go: false; status: 'gone' };

const ERASED_ERROR = 'the recipient’s data was erased: there is no address to send to';

// The acceptances of sends started by this dispatcher ($1): `sent_at` is the instant each started.
const sentRows = (ids: string, providerIds: string, startedAts: string) =>
  `UPDATE messages m SET status = 'sent', provider_id = s.provider_id, sent_at = s.started_at, last_error = NULL
     FROM unnest(${ids}::bigint[], ${providerIds}::text[], ${startedAts}::timestamptz[]) AS s(id, provider_id, started_at)
    WHERE m.id = s.id AND m.claimed_by = $1 AND m.status = 'sending' AND m.attempted_at = s.started_at`;

const MARK_SENT = statement('messages.mark-sent', sentRows('$2', '$3', '$4'));

// Starts the sends of a group ($2, at $3). Each row is taken only while it is still this
// dispatcher's claim, and consent is read as it stands then: a withdrawal that committed first has
// suppressed the row (consent/ledger.ts), and one that commits later leaves a started send alone.
// An email to an address a bounce made undeliverable since the row was recorded is suppressed too
// (after consent's own refusal, which outranks it).
// The same statement records the acceptances given with it ($5–$7, rows apart from the group's):
// one round trip and one commit for both.
const START = statement(
  'messages.start-sends',
  `WITH sent AS (${sentRows('$5', '$6', '$7')}),
   decided AS (
     SELECT m.id, m.to_address IS NULL AS erased, cs.deciding_event_id,
            coalesce(${refusalSql({ status: 'cs.status', channel: 'm.channel', purpose: 'm.purpose' })},
                     CASE WHEN m.channel = 'email' AND ${undeliverableSql('m.lead_id', 'm.to_address')} THEN '${BOUNCED}' END) AS refusal
       FROM messages m
       LEFT JOIN consent_state cs ON cs.lead_id = m.lead_id AND cs.channel = m.channel AND cs.purpose = m.purpose
      WHERE m.id = ANY($2::bigint[]) AND m.claimed_by = $1 AND m.status = 'sending'
      ORDER BY m.id
        FOR UPDATE OF m
   )
   UPDATE messages m
      SET status = CASE WHEN d.refusal IS NOT NULL THEN 'suppressed' WHEN d.erased THEN 'failed' ELSE 'sending' END,
          reason = coalesce(d.refusal, CASE WHEN d.erased THEN 'erased' END),
          last_error = CASE WHEN d.refusal IS NULL AND d.erased THEN $4 ELSE m.last_error END,
          claimed_by = CASE WHEN d.refusal IS NULL THEN m.claimed_by END,
          consent_event_id = CASE WHEN d.refusal IS NULL THEN d.deciding_event_id END,
          attempted_at = CASE WHEN d.refusal IS NULL AND NOT d.erased THEN $3::timestamptz END,
          attempts = m.attempts + (d.refusal IS NULL AND NOT d.erased)::int
     FROM decided d
    WHERE m.id = d.id
   RETURNING m.id, m.status, m.reason, m.attempts`,
);

const RETRY = statement(
  'messages.mark-retry',
  `UPDATE messages SET status = 'queued', claimed_by = NULL, attempted_at = NULL, last_error = $4, due_at = $5,
          attempts = attempts - $6::int, possible_duplicate = possible_duplicate OR $7
    WHERE id = $2 AND claimed_by = $1 AND status = 'sending' AND attempted_at = $3`,
);

const FAIL = statement(
  'messages.mark-failed',
  `UPDATE messages SET status = 'failed', reason = $4, last_error = $5
    WHERE id = $2 AND claimed_by = $1 AND status = 'sending' AND attempted_at = $3`,
);

/**
 * Starts the sends of these messages at `startedAt`. A row is marked attempted, naming as its
 * authority the consent event in force now, only if it is still `worker`'s claim and consent
 * allows it; a refused row is suppressed with its reason, an erased one fails. Only a `go` may be
 * handed to the provider. Records `sent` as recordSent does, in the same statement.
 */
export async function startSends(db: Queryable, worker: number, ids: number[], startedAt: Date, sent: Accepted[] = []): Promise<Start[]> {
  // Prepared once per connection: this runs for every message.
  const { rows } = await db.query<{ id: number; status: 'sending' | 'suppressed' | 'failed'; reason: string | null; attempts: number }>({
    name: 'messages.start-sends',
    text: START,
    values: [worker, ids, startedAt, ERASED_ERROR, ...acceptanceColumns(sent)],
  });
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id): Start => {
    const row = byId.get(id);
    if (!row) return { go: false, status: 'gone' };
    return row.status === 'sending' ? { go: true, attempts: row.attempts } : { go: false, status: row.status, reason: row.reason! };
  });
}

/** Records acceptances in one statement; the start instant of each becomes its `sent_at`. */
export async function recordSent(db: Queryable, worker: number, sent: Accepted[]): Promise<void> {
  if (sent.length === 0) return;
  await db.query({ name: 'messages.mark-sent', text: MARK_SENT, values: [worker, ...acceptanceColumns(sent)] });
}

const acceptanceColumns = (sent: Accepted[]) => [sent.map((s) => s.id), sent.map((s) => s.providerId), sent.map((s) => s.startedAt)];

export interface Retry {
  id: number;
  startedAt: Date;
  error: string;
  retryAt: Date;
  /** The message never reached the provider: the send is not counted against its attempts. */
  refund: boolean;
  /** The provider may hold a copy: the next send is marked `possible_duplicate`. */
  possibleDuplicate: boolean;
}

/** Puts a message whose send failed for now back in the queue, due at `retryAt`. */
export async function recordRetry(db: Queryable, worker: number, retry: Retry): Promise<void> {
  await db.query(RETRY, [worker, retry.id, retry.startedAt, retry.error, retry.retryAt, retry.refund ? 1 : 0, retry.possibleDuplicate]);
}

export interface Failure {
  id: number;
  startedAt: Date;
  reason: string;
  error: string;
}

/** Records a send that failed for good. */
export async function recordFailure(db: Queryable, worker: number, failure: Failure): Promise<void> {
  await db.query(FAIL, [worker, failure.id, failure.startedAt, failure.reason, failure.error]);
}
