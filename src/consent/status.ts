import { CHANNELS, type Channel } from '../channels/channel.ts';
import { statement, type Queryable } from '../db/statement.ts';
import { consentVerdict, refusalSql, type ConsentAction, type ConsentStatus, type RefusalReason } from './state.ts';

/** Where one person stands now on one channel and purpose, and since when. */
export interface CurrentConsent {
  channel: Channel;
  purpose: string;
  allowed: boolean;
  status: ConsentStatus | 'none';
  reason?: RefusalReason;
  /** The event the status rests on; null when the person has none for this channel and purpose. */
  deciding_event: { id: number; action: ConsentAction; source: string; occurred_at: Date } | null;
}

const CURRENT = statement(
  'consent.current-status-of-lead',
  `SELECT s.channel, s.purpose, s.status, e.id, e.action, e.source, e.occurred_at
     FROM consent_state s JOIN consent_events e ON e.id = s.deciding_event_id
    WHERE s.lead_id = $1`,
);

/**
 * A person's current consent for every channel and every purpose (those named, usually the
 * campaigns', and any their ledger holds), read from the derived state the send path reads and
 * judged by the same rule (`consentVerdict`), so it agrees with `consent check` at this instant.
 */
export async function currentConsentOf(db: Queryable, leadId: number, purposes: Iterable<string>): Promise<CurrentConsent[]> {
  const { rows } = await db.query<{
    channel: Channel;
    purpose: string;
    status: ConsentStatus;
    id: number;
    action: ConsentAction;
    source: string;
    occurred_at: Date;
  }>(CURRENT, [leadId]);
  const all = [...new Set([...purposes, ...rows.map((r) => r.purpose)])].sort();
  return all.flatMap((purpose) =>
    CHANNELS.map((channel): CurrentConsent => {
      const row = rows.find((r) => r.channel === channel && r.purpose === purpose);
      const verdict = consentVerdict(row && { status: row.status, decidingEventId: row.id }, channel, purpose);
      return {
        channel,
        purpose,
        allowed: verdict.allowed,
        status: row?.status ?? 'none',
        ...(verdict.allowed ? {} : { reason: verdict.reason }),
        deciding_event: row ? { id: row.id, action: row.action, source: row.source, occurred_at: row.occurred_at } : null,
      };
    }),
  );
}

/** How many people may be sent what now, and how many withdrew, week by week. */
export interface ConsentOverview {
  /** Per purpose and channel: people allowed now, and people with any consent state at all. */
  allowed: { purpose: string; channel: Channel; allowed: number; total: number }[];
  /** Withdrawals by the week (Monday, UTC) they happened in, over the weeks asked for. */
  withdrawals: { week: string; n: number }[];
}

const ALLOWED_COUNTS = statement(
  'consent.overview-allowed',
  `SELECT purpose, channel, count(*) FILTER (WHERE ${refusalSql({ status: 'status', channel: 'channel', purpose: 'purpose' })} IS NULL)::int AS allowed,
          count(*)::int AS total
     FROM consent_state GROUP BY purpose, channel ORDER BY purpose, channel`,
);
const WITHDRAWALS = statement(
  'consent.overview-withdrawals',
  `SELECT to_char(date_trunc('week', occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS week, count(*)::int AS n
     FROM consent_events WHERE action = 'withdraw' AND occurred_at >= $1 GROUP BY 1 ORDER BY 1`,
);

/**
 * The overview of the audit: counts over the derived state (one row per person, channel and purpose)
 * and the ledger's withdrawals since `since`; each a scan of its table, so an on-demand page, not a metric.
 */
export async function consentOverview(db: Queryable, since: Date): Promise<ConsentOverview> {
  const { rows: allowed } = await db.query<ConsentOverview['allowed'][number]>(ALLOWED_COUNTS);
  const { rows: withdrawals } = await db.query<ConsentOverview['withdrawals'][number]>(WITHDRAWALS, [since]);
  return { allowed, withdrawals };
}
