import type pg from 'pg';
import type { Channel } from '../channels/channel.ts';
import { LOCKS, lockForTransaction } from '../db/locks.ts';
import { statement } from '../db/statement.ts';
import { foldConsent, type ConsentAction } from './state.ts';

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
  /** The consent notice the person was shown: its version label and the SHA-256 of its text. */
  noticeVersion?: string;
  noticeHash?: string;
  /** Set only to carry a subject over from an erased lead; otherwise derived from the lead's address. */
  subjectHash?: string;
}

interface ConsentKey {
  leadId: number;
  channel: string;
  purpose: string;
}

const APPEND = statement(
  'consent.append-events',
  `INSERT INTO consent_events (lead_id, channel, purpose, action, source, evidence, actor, occurred_at, notice_version, notice_hash, subject_hash)
   SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[], $8::timestamptz[],
                        $9::text[], $10::text[], $11::text[])
   RETURNING id`,
);

const EVENTS_OF_KEYS = statement(
  'consent.events-of-keys',
  `SELECT e.id, e.lead_id, e.channel, e.purpose, e.action, e.source
     FROM consent_events e
     JOIN unnest($1::bigint[], $2::text[], $3::text[]) AS k(lead_id, channel, purpose)
       ON e.lead_id = k.lead_id AND e.channel = k.channel AND e.purpose = k.purpose
    ORDER BY e.occurred_at, e.id`,
);

const SAVE_STATES = statement(
  'consent.save-states',
  `INSERT INTO consent_state (lead_id, channel, purpose, status, deciding_event_id, updated_at)
   SELECT *, now() FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[])
   ON CONFLICT (lead_id, channel, purpose)
   DO UPDATE SET status = EXCLUDED.status, deciding_event_id = EXCLUDED.deciding_event_id, updated_at = now()`,
);

/**
 * Takes the ledger's writer lock for the rest of the transaction: for a read-then-append decision
 * (a confirmation used once) that no other writer may interleave with.
 */
export async function lockLedger(client: pg.PoolClient): Promise<void> {
  await lockForTransaction(client, LOCKS.consentChain);
}

const keyOf = (e: ConsentKey) => `${e.leadId}/${e.channel}/${e.purpose}`;

/**
 * Appends events to the ledger and re-derives the current state of every key they touch: the one
 * function that writes consent. Contract: `client` must be inside a transaction (see db/tx.ts), so
 * the events and the state they lead to commit together. Events may arrive out of order (history
 * imports); each key is refolded from all of its events, under a per-key lock taken in a fixed
 * order so writers never deadlock.
 */
export async function appendConsentEvents(client: pg.PoolClient, events: ConsentEventInput[]): Promise<number[]> {
  if (events.length === 0) return [];
  const keys = [...new Map(events.map((e) => [keyOf(e), e])).entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, e]) => e);
  // The chain lock first (the insert trigger takes it too): a transaction that appends twice
  // then never holds it while waiting for a key lock that a waiter for the chain holds.
  await lockLedger(client);
  for (const k of keys) await lockForTransaction(client, LOCKS.consentKey, keyOf(k));
  const { rows: inserted } = await client.query<{ id: number }>(APPEND, [
    events.map((e) => e.leadId),
    events.map((e) => e.channel),
    events.map((e) => e.purpose),
    events.map((e) => e.action),
    events.map((e) => e.source),
    events.map((e) => JSON.stringify(e.evidence ?? {})),
    events.map((e) => e.actor),
    events.map((e) => e.occurredAt.toISOString()),
    events.map((e) => e.noticeVersion ?? null),
    events.map((e) => e.noticeHash ?? null),
    events.map((e) => e.subjectHash ?? null),
  ]);
  await rederiveState(client, keys);
  return inserted.map((r) => r.id);
}

async function rederiveState(client: pg.PoolClient, keys: ConsentKey[]): Promise<void> {
  const { rows } = await client.query<{
    id: number;
    lead_id: number;
    channel: string;
    purpose: string;
    action: ConsentAction;
    source: string;
  }>(EVENTS_OF_KEYS, [keys.map((k) => k.leadId), keys.map((k) => k.channel), keys.map((k) => k.purpose)]);
  const byKey = new Map<string, typeof rows>();
  for (const row of rows) {
    const key = keyOf({ leadId: row.lead_id, channel: row.channel, purpose: row.purpose });
    const list = byKey.get(key);
    if (list) list.push(row);
    else byKey.set(key, [row]);
  }
  const states = keys.map((k) => ({ ...k, state: foldConsent(byKey.get(keyOf(k)) ?? [])! }));
  await client.query(SAVE_STATES, [
    states.map((s) => s.leadId),
    states.map((s) => s.channel),
    states.map((s) => s.purpose),
    states.map((s) => s.state.status),
    states.map((s) => s.state.decidingEventId),
  ]);
}
