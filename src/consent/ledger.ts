import type pg from 'pg';
import type { Channel } from '../channels/channel.ts';
import { copyIn } from '../db/copy.ts';
import { LOCKS, lockForTransaction } from '../db/locks.ts';
import { statement } from '../db/statement.ts';
import { holdSends, suppressUnstarted } from '../messages/consent-change.ts';
import type { SealBatch } from './seal.ts';
import { consentKeyOf as keyOf, foldSql, refusalSql, type ConsentAction, type ConsentKey } from './state.ts';

export interface ConsentEventInput {
  leadId: number;
  channel: Channel;
  purpose: string;
  action: ConsentAction;
  /** Where it came from: signup-form, import, unsubscribe-link, double-opt-in, legacy-confirmed … */
  source: string;
  evidence?: Record<string, unknown>;
  /** Who recorded it: a user, an API key, `import`, `recipient`. */
  actor: string;
  occurredAt: Date;
  /**
   * `occurredAt` is the moment of recording (a decision made now), not an instant the caller
   * reports. Then a send of the same key that started after it, before this event could commit,
   * went out under the earlier state, and named that state as its authority: the event is dated
   * just after the latest such send, so the ledger's as-of answers never contradict a send's record.
   */
  asItHappens?: boolean;
  /** The consent notice the person was shown: its version label and the SHA-256 of its text. */
  noticeVersion?: string;
  noticeHash?: string;
  /** Set only to carry a subject over from an erased lead; otherwise derived from the lead's address. */
  subjectHash?: string;
}

const APPEND = statement(
  'consent.append-events',
  `INSERT INTO consent_events (lead_id, channel, purpose, action, source, evidence, actor, occurred_at, notice_version, notice_hash, subject_hash)
   SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[], $8::timestamptz[],
                        $9::text[], $10::text[], $11::text[])
   RETURNING id`,
);

// The state of each key folded from all of its events and saved; the keys whose new state refuses
// sending come back, with the reason.
const SETTLE_KEYS = statement(
  'consent.settle-keys',
  `WITH keys AS (SELECT DISTINCT * FROM unnest($1::bigint[], $2::text[], $3::text[]) AS k(lead_id, channel, purpose)),
   folded AS (${foldSql(`SELECT e.lead_id, e.channel, e.purpose, e.id, e.action, e.source, e.occurred_at
                           FROM consent_events e JOIN keys k ON e.lead_id = k.lead_id AND e.channel = k.channel AND e.purpose = k.purpose`)}),
   saved AS (
     INSERT INTO consent_state (lead_id, channel, purpose, status, deciding_event_id, updated_at)
     SELECT lead_id, channel, purpose, status, deciding_event_id, now() FROM folded
     ON CONFLICT (lead_id, channel, purpose)
     DO UPDATE SET status = EXCLUDED.status, deciding_event_id = EXCLUDED.deciding_event_id, updated_at = now()
     RETURNING lead_id, channel, purpose, status)
   SELECT lead_id AS "leadId", channel, purpose, reason
     FROM (SELECT s.*, ${refusalSql({ status: 's.status', channel: 's.channel', purpose: 's.purpose' })} AS reason FROM saved s) r
    WHERE reason IS NOT NULL`,
);

/**
 * Takes the ledger's writer lock for the rest of the transaction: for a read-then-append decision
 * (a confirmation used once) that no other writer may interleave with.
 */
export async function lockLedger(client: pg.PoolClient): Promise<void> {
  await lockForTransaction(client, LOCKS.consentChain);
}

/**
 * Appends events to the ledger and re-derives the current state of every key they touch: the one
 * function that writes consent. Contract: `client` must be inside a transaction (see db/tx.ts), so
 * the events, the state they lead to and what that state does to the outbox commit together.
 * Events may arrive out of order (history imports); each key is refolded from all of its events,
 * under a per-key lock taken in a fixed order so writers never deadlock. A key whose new state no
 * longer allows sending has every message whose send has not started suppressed: a withdrawal
 * that commits stops every send that has not started.
 */
export async function appendConsentEvents(client: pg.PoolClient, events: ConsentEventInput[]): Promise<number[]> {
  if (events.length === 0) return [];
  const keys = uniqueKeys(events);
  // The chain lock first (the insert trigger takes it too): a transaction that appends twice
  // then never holds it while waiting for a key lock that a waiter for the chain holds.
  await lockLedger(client);
  for (const k of keys) await lockForTransaction(client, LOCKS.consentKey, keyOf(k));
  const dated = await datedAfterStartedSends(client, events);
  const { rows: inserted } = await client.query<{ id: number }>(APPEND, [
    dated.map((e) => e.leadId),
    dated.map((e) => e.channel),
    dated.map((e) => e.purpose),
    dated.map((e) => e.action),
    dated.map((e) => e.source),
    dated.map((e) => JSON.stringify(e.evidence ?? {})),
    dated.map((e) => e.actor),
    dated.map((e) => e.occurredAt.toISOString()),
    dated.map((e) => e.noticeVersion ?? null),
    dated.map((e) => e.noticeHash ?? null),
    dated.map((e) => e.subjectHash ?? null),
  ]);
  await settleKeys(client, {
    leadId: keys.map((k) => k.leadId),
    channel: keys.map((k) => k.channel),
    purpose: keys.map((k) => k.purpose),
  });
  return inserted.map((r) => r.id);
}

// Where the chain ends, and ids for n events after it, taken under the chain lock (ids follow the
// chain); recorded_at is the transaction's now(), as the column's default, written as the seal reads it.
const CHAIN_END = statement(
  'consent.chain-end',
  `SELECT coalesce((SELECT hash FROM consent_events ORDER BY id DESC LIMIT 1), '') AS hash,
          setval(pg_get_serial_sequence('consent_events', 'id'), nextval(pg_get_serial_sequence('consent_events', 'id')) + $1::int - 1)
            - $1::int + 1 AS first_id,
          to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS recorded_at`,
);
const COPY_SEALED = statement(
  'consent.copy-sealed-events',
  `COPY consent_events (id, lead_id, channel, purpose, action, source, evidence, actor, occurred_at, recorded_at,
                        notice_version, notice_hash, subject_hash, prev_hash, hash) FROM STDIN`,
);

/**
 * appendConsentEvents for a batch of thousands (consent import): the same events, state and
 * suppressions, with the seals computed here in order under the chain lock (consent/seal.ts) and
 * the sealed events sent by COPY. The per-key locks are not taken: every writer of a key holds
 * the chain lock first, and this one holds it throughout. Same contract: `client` is in a transaction.
 */
export async function appendConsentEventsInBulk(client: pg.PoolClient, batch: SealBatch): Promise<number> {
  const keys = batch.placedKeys();
  if (keys.count === 0) return 0;
  await lockLedger(client);
  const { rows } = await client.query<{ hash: string; first_id: number; recorded_at: string }>(CHAIN_END, [keys.count]);
  const { hash, first_id: firstId, recorded_at: recordedAt } = rows[0]!;
  await copyIn(client, COPY_SEALED, batch.seal(Number(firstId), recordedAt, hash));
  await settleKeys(client, keys);
  return keys.count;
}

/**
 * Re-derives the state of these keys from all of their events (in one statement, however many
 * keys) and suppresses the unstarted messages of every key whose new state no longer allows sending.
 */
async function settleKeys(client: pg.PoolClient, keys: { leadId: number[]; channel: string[]; purpose: string[] }): Promise<void> {
  const { rows: refused } = await client.query<ConsentKey & { reason: string }>(SETTLE_KEYS, [keys.leadId, keys.channel, keys.purpose]);
  await suppressUnstarted(client, refused);
}

/** The keys of these events, each once, in lock order. */
function uniqueKeys(events: ConsentKey[]): ConsentKey[] {
  return [...new Map(events.map((e) => [keyOf(e), { leadId: e.leadId, channel: e.channel, purpose: e.purpose }])).entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([, k]) => k);
}

/**
 * Events recorded as they happen, dated after the sends of their key that started since their
 * instant (see `asItHappens`). Holding those rows also keeps any other send of these keys from
 * starting before this transaction ends.
 */
async function datedAfterStartedSends(client: pg.PoolClient, events: ConsentEventInput[]): Promise<ConsentEventInput[]> {
  const live = events.filter((e) => e.asItHappens);
  if (live.length === 0) return events;
  const since = new Date(Math.min(...live.map((e) => e.occurredAt.getTime())));
  const started = await holdSends(client, uniqueKeys(live), since);
  return events.map((e) => {
    const latest = e.asItHappens ? started.get(keyOf(e)) : undefined;
    return latest && latest >= e.occurredAt ? { ...e, occurredAt: new Date(latest.getTime() + 1) } : e;
  });
}
