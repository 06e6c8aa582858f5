import type pg from 'pg';
import type { Channel } from '../campaigns/types.ts';
import { foldConsent } from './ledger.ts';

export type ConsentStatus = 'granted' | 'confirmed' | 'withdrawn';

export interface ConsentState {
  status: ConsentStatus;
  decidingEventId: number;
}

export type ConsentVerdict =
  | { allowed: true; eventId: number }
  | { allowed: false; reason: 'no_consent' | 'unconfirmed' | 'withdrawn' };

/**
 * Answers from the service team to someone who wrote to us. They are what the person asked for, not
 * marketing, so no opt-in gates them (they never go to anyone who did not write first).
 */
export const SERVICE_REPLY_PURPOSE = 'service-reply';
/** The double opt-in email itself: it asks for the confirmation, so it cannot wait for it. */
export const CONFIRMATION_PURPOSE = 'consent-confirmation';
/** Purposes of messages the person asked for, which no opt-in gates. */
export const UNGATED_PURPOSES: ReadonlySet<string> = new Set([SERVICE_REPLY_PURPOSE, CONFIRMATION_PURPOSE]);

/** Marketing email counts only after double opt-in; everything else on a standing grant. */
function needsConfirmation(channel: Channel, purpose: string): boolean {
  return channel === 'email' && purpose === 'marketing';
}

/** Whether a message may go out, and which ledger event allows it. "No opt-in, nothing may be done." */
export function consentVerdict(state: ConsentState | undefined, channel: Channel, purpose: string): ConsentVerdict {
  if (!state) return { allowed: false, reason: 'no_consent' };
  if (state.status === 'withdrawn') return { allowed: false, reason: 'withdrawn' };
  if (state.status === 'granted' && needsConfirmation(channel, purpose)) return { allowed: false, reason: 'unconfirmed' };
  return { allowed: true, eventId: state.decidingEventId };
}

/** Current consent of a whole batch of leads for one channel and purpose, in one query. */
export async function consentStatesFor(
  client: pg.Pool | pg.PoolClient,
  leadIds: number[],
  channel: Channel,
  purpose: string,
): Promise<Map<number, ConsentState>> {
  const { rows } = await client.query<{ lead_id: number; status: ConsentStatus; deciding_event_id: number }>(
    `SELECT lead_id, status, deciding_event_id FROM consent_state
      WHERE lead_id = ANY($1::bigint[]) AND channel = $2 AND purpose = $3`,
    [leadIds, channel, purpose],
  );
  return new Map(rows.map((r) => [r.lead_id, { status: r.status, decidingEventId: r.deciding_event_id }]));
}

/** Verdicts of a batch of leads for every channel a campaign may use (one query per channel). */
export async function consentVerdictsFor(
  client: pg.Pool | pg.PoolClient,
  leadIds: number[],
  channels: Channel[],
  purpose: string,
): Promise<Map<number, Partial<Record<Channel, ConsentVerdict>>>> {
  const verdicts = new Map<number, Partial<Record<Channel, ConsentVerdict>>>(leadIds.map((id) => [id, {}]));
  for (const channel of channels) {
    const states = await consentStatesFor(client, leadIds, channel, purpose);
    for (const id of leadIds) verdicts.get(id)![channel] = consentVerdict(states.get(id), channel, purpose);
  }
  return verdicts;
}

/** A ledger event as audits show it. */
export interface LedgerEvent {
  id: number;
  action: 'grant' | 'confirm' | 'withdraw';
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

export const LEDGER_EVENT_COLUMNS = 'id, action, channel, purpose, source, actor, evidence, notice_version, notice_hash, occurred_at, recorded_at, hash';

export interface ConsentAnswer {
  allowed: boolean;
  status: ConsentStatus | 'none';
  reason?: 'no_consent' | 'unconfirmed' | 'withdrawn';
  /** The event the answer rests on (none when there is no event before the instant). */
  decidingEvent: LedgerEvent | null;
}

/**
 * Whether a message on this channel for this purpose was allowed at `at`: the events that had
 * happened by then, folded in the order they happened, exactly as the current state is folded.
 */
export async function consentAsOf(pool: pg.Pool | pg.PoolClient, leadId: number, channel: Channel, purpose: string, at: Date): Promise<ConsentAnswer> {
  const { rows } = await pool.query<LedgerEvent>(
    `SELECT ${LEDGER_EVENT_COLUMNS} FROM consent_events
      WHERE lead_id = $1 AND channel = $2 AND purpose = $3 AND occurred_at <= $4 ORDER BY occurred_at, id`,
    [leadId, channel, purpose, at],
  );
  const events = rows.map((r) => ({ ...r, id: Number(r.id) }));
  const state = foldConsent(events);
  const verdict = consentVerdict(state, channel, purpose);
  return {
    allowed: verdict.allowed,
    status: state?.status ?? 'none',
    ...(verdict.allowed ? {} : { reason: verdict.reason }),
    decidingEvent: state ? events.find((e) => e.id === state.decidingEventId)! : null,
  };
}
