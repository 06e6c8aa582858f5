import type pg from 'pg';
import type { Channel } from '../campaigns/types.ts';
import type { ConsentStatus } from './check.ts';

export type ConsentAction = 'grant' | 'confirm' | 'withdraw';

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

/** A grant from before double opt-in existed, whose confirmation the importer vouches for. */
export const LEGACY_CONFIRMED = 'legacy-confirmed';

/** Namespace of the transaction locks that serialise writers of one (lead, channel, purpose). */
const LEDGER_LOCK_NAMESPACE = 7_245_003;
/** The lock the ledger's insert trigger takes to extend the hash chain (migration 0008). */
const LEDGER_CHAIN_LOCK = 7_245_005;

interface FoldEvent {
  id: number;
  action: ConsentAction;
  source: string;
}

/**
 * The current state a key's events lead to, folded in the order they happened: a grant does not
 * undo a confirmation, a legacy-confirmed grant counts as confirmed, a withdrawal ends both.
 */
export function foldConsent(events: FoldEvent[]): { status: ConsentStatus; decidingEventId: number } | undefined {
  let state: { status: ConsentStatus; decidingEventId: number } | undefined;
  for (const e of events) {
    if (e.action === 'withdraw') state = { status: 'withdrawn', decidingEventId: e.id };
    else if (e.action === 'confirm' || e.source === LEGACY_CONFIRMED) state = { status: 'confirmed', decidingEventId: e.id };
    else if (state?.status !== 'confirmed') state = { status: 'granted', decidingEventId: e.id };
  }
  return state;
}

/**
 * Takes the ledger's writer lock for the rest of the transaction: for a read-then-append decision
 * (a confirmation used once) that no other writer may interleave with.
 */
export async function lockLedger(client: pg.PoolClient): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [LEDGER_CHAIN_LOCK]);
}

const keyOf = (e: { leadId: number; channel: string; purpose: string }) => `${e.leadId}/${e.channel}/${e.purpose}`;

/**
 * Appends events to the ledger and re-derives the current state of every key they touch.
 * Contract: `client` must be inside a transaction (see db/tx.ts), so the events and the state they
 * lead to commit together. Events may arrive out of order (history imports); each key is refolded
 * from all of its events, under a per-key lock taken in a fixed order so writers never deadlock.
 */
export async function appendConsentEvents(client: pg.PoolClient, events: ConsentEventInput[]): Promise<number[]> {
  if (events.length === 0) return [];
  const keys = [...new Map(events.map((e) => [keyOf(e), e])).entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, e]) => e);
  // The chain lock first (the insert trigger takes it too): a transaction that appends twice
  // then never holds it while waiting for a key lock that a waiter for the chain holds.
  await lockLedger(client);
  for (const k of keys) {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LEDGER_LOCK_NAMESPACE, keyOf(k)]);
  }
  const { rows: inserted } = await client.query<{ id: number }>(
    `INSERT INTO consent_events (lead_id, channel, purpose, action, source, evidence, actor, occurred_at, notice_version, notice_hash, subject_hash)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[], $8::timestamptz[],
                          $9::text[], $10::text[], $11::text[])
     RETURNING id`,
    [
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
    ],
  );
  await rederiveState(client, keys);
  return inserted.map((r) => r.id);
}

async function rederiveState(client: pg.PoolClient, keys: { leadId: number; channel: string; purpose: string }[]): Promise<void> {
  const { rows } = await client.query<FoldEvent & { lead_id: number; channel: string; purpose: string }>(
    `SELECT e.id, e.lead_id, e.channel, e.purpose, e.action, e.source
       FROM consent_events e
       JOIN unnest($1::bigint[], $2::text[], $3::text[]) AS k(lead_id, channel, purpose)
         ON e.lead_id = k.lead_id AND e.channel = k.channel AND e.purpose = k.purpose
      ORDER BY e.occurred_at, e.id`,
    [keys.map((k) => k.leadId), keys.map((k) => k.channel), keys.map((k) => k.purpose)],
  );
  const byKey = new Map<string, FoldEvent[]>();
  for (const row of rows) {
    const key = keyOf({ leadId: row.lead_id, channel: row.channel, purpose: row.purpose });
    const list = byKey.get(key);
    if (list) list.push(row);
    else byKey.set(key, [row]);
  }
  const states = keys.map((k) => ({ ...k, state: foldConsent(byKey.get(keyOf(k)) ?? [])! }));
  await client.query(
    `INSERT INTO consent_state (lead_id, channel, purpose, status, deciding_event_id, updated_at)
     SELECT *, now() FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[])
     ON CONFLICT (lead_id, channel, purpose)
     DO UPDATE SET status = EXCLUDED.status, deciding_event_id = EXCLUDED.deciding_event_id, updated_at = now()`,
    [
      states.map((s) => s.leadId),
      states.map((s) => s.channel),
      states.map((s) => s.purpose),
      states.map((s) => s.state.status),
      states.map((s) => s.state.decidingEventId),
    ],
  );
}
