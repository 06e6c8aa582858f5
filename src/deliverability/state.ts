import type { Verdicts } from '../campaigns/decide.ts';
import { statement, type Queryable } from '../db/statement.ts';
import type { AddressStatus, BounceOutcome, BounceSource } from './schema.ts';

/**
 * Reading what bounces decided (bounces.ts writes it): when messages are decided (plans, runs,
 * sequence steps), when each send starts (messages/attempt.ts), and for people reading a lead.
 */

/** The suppression reason of a message to an undeliverable address. */
export const BOUNCED = 'bounced';

/**
 * SQL: whether the email address `address` of lead `lead` (column expressions) is undeliverable;
 * read when a send starts (messages/attempt.ts), so a bounce that committed first stops it.
 */
export const undeliverableSql = (lead: string, address: string) =>
  `EXISTS (SELECT 1 FROM email_address_states s WHERE s.lead_id = ${lead} AND s.address = lower(${address}) AND s.status = 'undeliverable')`;

const UNDELIVERABLE = statement(
  'deliverability.undeliverable-leads',
  `SELECT l.id FROM unnest($1::bigint[], $2::text[]) AS l(id, address) WHERE ${undeliverableSql('l.id', 'l.address')}`,
);

/**
 * A batch's verdicts with email refused as `bounced` for each lead whose address on file is
 * undeliverable. Consent comes first: a refusal keeps its own reason, and only a message consent
 * allows is refused for the address. A `preferred` step then takes the other channel (decide.ts).
 */
export async function refuseBounced(
  db: Queryable,
  leads: readonly { id: number; email: string | null }[],
  verdicts: Map<number, Verdicts>,
): Promise<Map<number, Verdicts>> {
  const withEmail = leads.filter((l) => l.email !== null && verdicts.get(l.id)?.email?.allowed);
  if (withEmail.length === 0) return verdicts;
  const { rows } = await db.query<{ id: number }>(UNDELIVERABLE, [withEmail.map((l) => l.id), withEmail.map((l) => l.email)]);
  for (const { id } of rows) verdicts.get(id)!.email = { allowed: false, reason: BOUNCED };
  return verdicts;
}

/** One bounce as people read it. */
export interface BounceRecord {
  id: number;
  message_id: number;
  campaign_id: string | null;
  step_id: string | null;
  outcome: BounceOutcome;
  source: BounceSource;
  action: string | null;
  status: string | null;
  diagnostic: string | null;
  received_at: Date;
}

/** Whether a person's address takes our mail, with the bounce that decided it and the latest bounces. */
export interface EmailDeliverability {
  status: AddressStatus;
  changed_at: Date | null;
  /** The bounce that set the status; null while no bounce changed it. */
  decided_by: BounceRecord | null;
  recent: BounceRecord[];
}

const BOUNCE_COLUMNS = `b.id, b.message_id, m.campaign_id, m.step_id, b.outcome, b.source, b.action, b.status, b.diagnostic, b.received_at`;

const STATE = statement(
  'deliverability.address-state',
  `SELECT s.status, s.changed_at, s.bounce_id FROM email_address_states s WHERE s.lead_id = $1 AND s.address = lower($2)`,
);
const RECENT = statement(
  'deliverability.recent-bounces',
  `SELECT ${BOUNCE_COLUMNS} FROM email_bounces b LEFT JOIN messages m ON m.id = b.message_id
    WHERE b.lead_id = $1 AND b.address = lower($2) ORDER BY b.received_at DESC, b.id DESC LIMIT $3`,
);
const BOUNCE = statement(
  'deliverability.bounce',
  `SELECT ${BOUNCE_COLUMNS} FROM email_bounces b LEFT JOIN messages m ON m.id = b.message_id WHERE b.id = $1`,
);

/** The state of lead `leadId`'s address `address` (the one on file), with its latest bounces; deliverable when none came back. */
export async function emailDeliverability(db: Queryable, leadId: number, address: string, limit = 10): Promise<EmailDeliverability> {
  const { rows } = await db.query<{ status: AddressStatus; changed_at: Date; bounce_id: number | null }>(STATE, [leadId, address]);
  const state = rows[0];
  const [{ rows: recent }, { rows: deciding }] = await Promise.all([
    db.query<BounceRecord>(RECENT, [leadId, address, limit]),
    db.query<BounceRecord>(BOUNCE, [state?.bounce_id ?? null]),
  ]);
  return {
    status: state?.status ?? 'deliverable',
    changed_at: state?.bounce_id ? state.changed_at : null,
    decided_by: deciding[0] ?? null,
    recent,
  };
}
