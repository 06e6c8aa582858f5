import type { Channel } from '../channels/channel.ts';
import { statement, type Queryable } from '../db/statement.ts';
import {
  consentVerdict,
  foldConsent,
  type ConsentAction,
  type ConsentState,
  type ConsentStatus,
  type ConsentVerdict,
  type RefusalReason,
} from './state.ts';

/** A ledger event as audits show it. */
export interface LedgerEvent {
  id: number;
  action: ConsentAction;
  channel: Channel;
  purpose: string;
  source: string;
  actor: string;
  evidence: Record<string, unknown>;
  notice_version: string | null;
  notice_hash: string | null;
  occurred_at: Date;
  recorded_at: Date;
  hash: string;
}

export const LEDGER_EVENT_COLUMNS =
  'id, action, channel, purpose, source, actor, evidence, notice_version, notice_hash, occurred_at, recorded_at, hash';

const STATES_OF_LEADS = statement(
  'consent.states-of-leads',
  `SELECT lead_id, status, deciding_event_id FROM consent_state
    WHERE lead_id = ANY($1::bigint[]) AND channel = $2 AND purpose = $3`,
);

const EVENTS_UNTIL = statement(
  'consent.events-of-key-until',
  `SELECT ${LEDGER_EVENT_COLUMNS} FROM consent_events
    WHERE lead_id = $1 AND channel = $2 AND purpose = $3 AND occurred_at <= $4 ORDER BY occurred_at, id`,
);

const STATES_OF_LEAD = statement(
  'consent.states-of-lead',
  `SELECT channel, purpose, status FROM consent_state WHERE lead_id = $1 ORDER BY channel, purpose`,
);

/** Current consent of a whole batch of leads for one channel and purpose, in one query. */
export async function consentStatesFor(
  db: Queryable,
  leadIds: number[],
  channel: Channel,
  purpose: string,
): Promise<Map<number, ConsentState>> {
  const { rows } = await db.query<{ lead_id: number; status: ConsentStatus; deciding_event_id: number }>(STATES_OF_LEADS, [
    leadIds,
    channel,
    purpose,
  ]);
  return new Map(rows.map((r) => [r.lead_id, { status: r.status, decidingEventId: r.deciding_event_id }]));
}

/** Verdicts of a batch of leads for every channel a campaign may use (one query per channel). */
export async function consentVerdictsFor(
  db: Queryable,
  leadIds: number[],
  channels: Channel[],
  purpose: string,
): Promise<Map<number, Partial<Record<Channel, ConsentVerdict>>>> {
  const verdicts = new Map<number, Partial<Record<Channel, ConsentVerdict>>>(leadIds.map((id) => [id, {}]));
  for (const channel of channels) {
    const states = await consentStatesFor(db, leadIds, channel, purpose);
    for (const id of leadIds) verdicts.get(id)![channel] = consentVerdict(states.get(id), channel, purpose);
  }
  return verdicts;
}

export interface ConsentAnswer {
  allowed: boolean;
  status: ConsentStatus | 'none';
  reason?: RefusalReason;
  /** The event the answer rests on (none when there is no event before the instant). */
  deciding_event: LedgerEvent | null;
  /**
   * The deciding event was recorded after the instant asked about: at that instant the ledger did
   * not hold it (history imported later), so nothing sent then can have relied on it.
   */
  recorded_later: boolean;
}

/**
 * Whether a message on this channel for this purpose was allowed at `at`: the events that had
 * happened by then, folded in the order they happened, exactly as the current state is folded.
 * An answer resting on an event recorded only after `at` says so (`recorded_later`).
 */
export async function consentAsOf(db: Queryable, leadId: number, channel: Channel, purpose: string, at: Date): Promise<ConsentAnswer> {
  const { rows: events } = await db.query<LedgerEvent>(EVENTS_UNTIL, [leadId, channel, purpose, at]);
  const state = foldConsent(events);
  const verdict = consentVerdict(state, channel, purpose);
  const deciding = state ? events.find((e) => e.id === state.decidingEventId)! : null;
  return {
    allowed: verdict.allowed,
    status: state?.status ?? 'none',
    ...(verdict.allowed ? {} : { reason: verdict.reason }),
    deciding_event: deciding,
    recorded_later: deciding !== null && deciding.recorded_at.getTime() > at.getTime(),
  };
}

/** A person's consents, as the preference page behind an unsubscribe link lists them. */
export async function preferencesOf(
  db: Queryable,
  leadId: number,
): Promise<{ channel: Channel; purpose: string; status: ConsentStatus }[]> {
  const { rows } = await db.query<{ channel: Channel; purpose: string; status: ConsentStatus }>(STATES_OF_LEAD, [leadId]);
  return rows;
}
