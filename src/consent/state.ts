import type { Channel } from '../channels/channel.ts';

/**
 * The consent vocabulary, and the rules that need no database:
 * - consent event: one append-only entry of the ledger (grant, confirm or withdraw), for one lead,
 *   channel and purpose, with its source, evidence and actor;
 * - consent state: what a (lead, channel, purpose) key's events lead to, and the event that decided it;
 * - verdict: whether a message may go out under that state, and on the strength of which event.
 */
export type ConsentAction = 'grant' | 'confirm' | 'withdraw';
export type ConsentStatus = 'granted' | 'confirmed' | 'withdrawn';

/** What consent is given for: one lead, on one channel, for one purpose. */
export interface ConsentKey {
  leadId: number;
  channel: Channel;
  purpose: string;
}

/** A key as one string, `lead/channel/purpose` (a map key, a lock name). */
export const consentKeyOf = (k: ConsentKey): string => `${k.leadId}/${k.channel}/${k.purpose}`;

export interface ConsentState {
  status: ConsentStatus;
  decidingEventId: number;
}

export type RefusalReason = 'no_consent' | 'unconfirmed' | 'withdrawn';

export type ConsentVerdict = { allowed: true; eventId: number } | { allowed: false; reason: RefusalReason };

/** A grant from before double opt-in existed, whose confirmation the importer vouches for. */
export const LEGACY_CONFIRMED = 'legacy-confirmed';

/**
 * Answers from the service team to someone who wrote to us. They are what the person asked for, not
 * marketing, so no opt-in gates them (they never go to anyone who did not write first).
 */
export const SERVICE_REPLY_PURPOSE = 'service-reply';
/** The double opt-in email itself: it asks for the confirmation, so it cannot wait for it. */
export const CONFIRMATION_PURPOSE = 'consent-confirmation';
/**
 * The link that completes an opt-out someone asked for in a reply we could not verify: sent to the
 * address on file, it asks before anything changes, so it cannot wait for an opt-in either.
 */
export const OPT_OUT_CONFIRMATION_PURPOSE = 'opt-out-confirmation';
/** The receipt of a consent change (CONSENT_RECEIPTS): it tells of a withdrawal too, so no opt-in can gate it. */
export const RECEIPT_PURPOSE = 'consent-receipt';
/** Purposes of messages the person asked for, which no opt-in gates. */
export const UNGATED_PURPOSES: ReadonlySet<string> = new Set([
  SERVICE_REPLY_PURPOSE,
  CONFIRMATION_PURPOSE,
  OPT_OUT_CONFIRMATION_PURPOSE,
  RECEIPT_PURPOSE,
]);

/**
 * How far the `occurred_at` of a decision recorded as it is made (the API) may lie from our clock:
 * a little behind, for a form whose post took a moment to reach us; a little ahead, for clocks that
 * drift. Anything older is history, loaded by `consent import` with its file and row as evidence.
 */
export const OCCURRED_AT_TOLERANCE = { pastMs: 10 * 60_000, futureMs: 60_000 } as const;

/**
 * Whether an event was recorded later than it happened, by more than a decision recorded as it is
 * made may lag: imported history, or a withdrawal carried over from an erased record.
 */
export function recordedLate(event: { occurred_at: Date; recorded_at: Date }): boolean {
  return event.recorded_at.getTime() - event.occurred_at.getTime() > OCCURRED_AT_TOLERANCE.pastMs;
}

/** The one channel and purpose whose consent counts only after double opt-in confirmation. */
const CONFIRMED_ONLY = { channel: 'email', purpose: 'marketing' } as const;

/** Marketing email counts only after double opt-in; everything else on a standing grant. */
export function needsConfirmation(channel: Channel, purpose: string): boolean {
  return channel === CONFIRMED_ONLY.channel && purpose === CONFIRMED_ONLY.purpose;
}

/** Whether a message may go out, and which ledger event allows it. "No opt-in, nothing may be done." */
export function consentVerdict(state: ConsentState | undefined, channel: Channel, purpose: string): ConsentVerdict {
  if (!state) return { allowed: false, reason: 'no_consent' };
  if (state.status === 'withdrawn') return { allowed: false, reason: 'withdrawn' };
  if (state.status === 'granted' && needsConfirmation(channel, purpose)) return { allowed: false, reason: 'unconfirmed' };
  return { allowed: true, eventId: state.decidingEventId };
}

/**
 * consentVerdict's refusal as an SQL expression over the named columns, for a statement that must
 * decide at the instant it runs (a send starting, test/consent/verdict-sql.test.ts holds the two
 * together): NULL when a message may go out, else its reason. `status` is NULL for no state.
 */
export function refusalSql(columns: { status: string; channel: string; purpose: string }): string {
  const { status, channel, purpose } = columns;
  const ungated = [...UNGATED_PURPOSES].map((p) => `'${p}'`).join(', ');
  return `CASE WHEN ${purpose} IN (${ungated}) THEN NULL
               WHEN ${status} IS NULL THEN 'no_consent'
               WHEN ${status} = 'withdrawn' THEN 'withdrawn'
               WHEN ${status} = 'granted' AND ${channel} = '${CONFIRMED_ONLY.channel}' AND ${purpose} = '${CONFIRMED_ONLY.purpose}' THEN 'unconfirmed'
          END`;
}

/**
 * The state a key's events lead to, folded in the order they happened: a grant does not undo a
 * confirmation, a legacy-confirmed grant counts as confirmed, a withdrawal ends both.
 */
export function foldConsent(events: { id: number; action: ConsentAction; source: string }[]): ConsentState | undefined {
  let state: ConsentState | undefined;
  for (const e of events) {
    if (e.action === 'withdraw') state = { status: 'withdrawn', decidingEventId: e.id };
    else if (e.action === 'confirm' || e.source === LEGACY_CONFIRMED) state = { status: 'confirmed', decidingEventId: e.id };
    else if (state?.status !== 'confirmed') state = { status: 'granted', decidingEventId: e.id };
  }
  return state;
}

/**
 * foldConsent in SQL, for a statement that folds many keys at once: over `events` (a query with
 * lead_id, channel, purpose, id, action, source, occurred_at), one row per key with its status and
 * deciding_event_id. The fold keeps the events after the key's latest withdrawal: the latest
 * confirmation among them decides, else the latest grant, else the withdrawal itself.
 * test/consent/fold-sql.test.ts holds the two together.
 */
export function foldSql(events: string): string {
  return `SELECT DISTINCT ON (lead_id, channel, purpose) lead_id, channel, purpose, status, id AS deciding_event_id
     FROM (SELECT f.lead_id, f.channel, f.purpose, f.id, f.action, f.occurred_at,
                  count(*) FILTER (WHERE f.action = 'withdraw')
                    OVER (PARTITION BY f.lead_id, f.channel, f.purpose ORDER BY f.occurred_at DESC, f.id DESC) AS withdrawals_since,
                  CASE WHEN f.action = 'withdraw' THEN 'withdrawn'
                       WHEN f.action = 'confirm' OR f.source = '${LEGACY_CONFIRMED}' THEN 'confirmed'
                       ELSE 'granted' END AS status
             FROM (${events}) f) e
    WHERE withdrawals_since = 0 OR (withdrawals_since = 1 AND action = 'withdraw')
    ORDER BY lead_id, channel, purpose, CASE status WHEN 'confirmed' THEN 1 WHEN 'granted' THEN 2 ELSE 3 END, occurred_at DESC, id DESC`;
}
