import type { Deployment } from './deployment.ts';
import { CAMPAIGN } from './seed.ts';
import type { SmtpRecord, SmtpTransaction } from './smtp-record.ts';

/** One outbox row of the drill's campaign, as the drill reads it after the fact. */
export interface OutboxRow {
  to: string;
  externalId: string;
  status: string;
  reason: string | null;
  lastError: string | null;
  flagged: boolean;
  attempts: number;
  consentEventId: number | null;
  /** ISO instant with microseconds, as stored. */
  sentAt: string | null;
}

export async function outboxRows(d: Deployment): Promise<OutboxRow[]> {
  return d.db.query<OutboxRow>(
    `SELECT lower(m.to_address) AS "to", l.external_id AS "externalId", m.status, m.reason, m.last_error AS "lastError",
            m.possible_duplicate AS flagged, m.attempts, m.consent_event_id::int AS "consentEventId",
            to_char(m.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "sentAt"
       FROM messages m JOIN leads l ON l.id = m.lead_id
      WHERE m.campaign_id = $1`,
    [CAMPAIGN],
  );
}

export interface Delivery {
  rows: OutboxRow[];
  rowByRecipient: Map<string, OutboxRow>;
  /** Accepted copies per recipient (one message per recipient in the drill's campaign). */
  copies: Map<string, SmtpTransaction[]>;
  /** Recipients whose message the SMTP server accepted more than once, with every copy. */
  duplicated: Map<string, SmtpTransaction[]>;
  figures: {
    outbox_rows_by_status: Record<string, number>;
    lost: number;
    lost_examples: string[];
    sent_to_non_consented: number;
    accepted_copies: number;
    duplicate_copies: number;
    duplicated_messages: number;
    duplicates_flagged: number;
    duplicates_not_flagged: number;
    rows_flagged_possible_duplicate: number;
  };
}

/**
 * Figures every drill reports, from the outbox rows and the SMTP server's record:
 * - lost: a recipient that was due a message (`due`: consented, never withdrawn) of which the SMTP
 *   server accepted no copy, whatever the row says (failed, still queued, or missing);
 * - sent to non-consented: accepted copies to recipients who never had a usable consent (`forbidden`);
 * - duplicate copies: accepted copies beyond the first of one message (same Message-ID, same
 *   recipient); a duplicated message is flagged when its row is `possible_duplicate`.
 */
export function deliveryFigures(rows: OutboxRow[], record: SmtpRecord, due: string[], forbidden: string[]): Delivery {
  const accepted = record.read().acceptedCopies();
  const rowByRecipient = new Map(rows.map((r) => [r.to, r]));
  const copies = new Map<string, SmtpTransaction[]>();
  const byMessageId = new Map<string, SmtpTransaction[]>();
  for (const copy of accepted) {
    const to = copy.to ?? '';
    copies.set(to, [...(copies.get(to) ?? []), copy]);
    const id = copy.messageId ?? `${to} (no Message-ID)`;
    byMessageId.set(id, [...(byMessageId.get(id) ?? []), copy]);
  }
  const duplicated = new Map<string, SmtpTransaction[]>();
  for (const group of byMessageId.values()) if (group.length > 1) duplicated.set(group[0]!.to ?? '', group);
  const lost = due.filter((to) => !copies.has(to));
  const flaggedDuplicates = [...duplicated.keys()].filter((to) => rowByRecipient.get(to)?.flagged).length;
  const byStatus: Record<string, number> = {};
  for (const r of rows) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  return {
    rows,
    rowByRecipient,
    copies,
    duplicated,
    figures: {
      outbox_rows_by_status: byStatus,
      lost: lost.length,
      lost_examples: lost.slice(0, 5),
      sent_to_non_consented: forbidden.filter((to) => copies.has(to)).length,
      accepted_copies: accepted.length,
      duplicate_copies: [...duplicated.values()].reduce((sum, group) => sum + group.length - 1, 0),
      duplicated_messages: duplicated.size,
      duplicates_flagged: flaggedDuplicates,
      duplicates_not_flagged: duplicated.size - flaggedDuplicates,
      rows_flagged_possible_duplicate: rows.filter((r) => r.flagged).length,
    },
  };
}

/** Reasons and counts of failed rows. */
export function failures(rows: OutboxRow[]): Record<string, number> {
  const reasons: Record<string, number> = {};
  for (const r of rows.filter((row) => row.status === 'failed')) reasons[r.reason ?? '?'] = (reasons[r.reason ?? '?'] ?? 0) + 1;
  return reasons;
}

export function round(ms: number | undefined, digits = 0): number | null {
  return ms === undefined ? null : Number(ms.toFixed(digits));
}

/** min / median / max of a list of milliseconds (null when empty). */
export function spread(values: number[]): { min: number; median: number; max: number } | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return { min: round(sorted[0])!, median: round(sorted[Math.floor(sorted.length / 2)])!, max: round(sorted[sorted.length - 1])! };
}
