import { bigint, bigserial, index, pgTable, primaryKey, text, timestamp, unique } from 'drizzle-orm/pg-core';
import { leads } from '../leads/schema.ts';
import { messages } from '../messages/schema.ts';

/**
 * Deliverability vocabulary:
 * - bounce: what a receiver said about one of our emails: `hard` (the address does not take mail),
 *   `soft` (not now: full mailbox, greylisting) or `delivered` (a report that it arrived);
 * - address state: whether a person's address takes our mail, and the bounce that decided it.
 */
export const BOUNCE_OUTCOMES = ['hard', 'soft', 'delivered'] as const;
export type BounceOutcome = (typeof BOUNCE_OUTCOMES)[number];
/** `dsn`: a delivery status notification (RFC 3464) that came back; `smtp`: a 5xx to RCPT TO while we sent. */
export type BounceSource = 'dsn' | 'smtp';
export type AddressStatus = 'deliverable' | 'undeliverable';

/**
 * The evidence: one row per message and outcome (a report that arrives twice, or an MTA's second
 * "still delayed", counts once). Written only by recordBounce (bounces.ts).
 */
export const emailBounces = pgTable(
  'email_bounces',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    leadId: bigint('lead_id', { mode: 'number' })
      .notNull()
      .references(() => leads.id),
    messageId: bigint('message_id', { mode: 'number' })
      .notNull()
      .references(() => messages.id),
    /** The address the message went to (lowercase); null once the person is erased. */
    address: text('address'),
    outcome: text('outcome', { enum: BOUNCE_OUTCOMES }).notNull(),
    source: text('source', { enum: ['dsn', 'smtp'] }).notNull(),
    /** The report's Action (failed, delayed, delivered, relayed, expanded); null for an SMTP refusal. */
    action: text('action'),
    /** The enhanced status code (RFC 3463), e.g. 5.1.1. */
    status: text('status'),
    /** The receiver's words: the report's Diagnostic-Code, or the SMTP reply. */
    diagnostic: text('diagnostic'),
    finalRecipient: text('final_recipient'),
    /** The report's Message-ID (or content hash), to find the mail it came in. */
    mailId: text('mail_id'),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    unique('email_bounces_message_outcome_key').on(t.messageId, t.outcome),
    index('email_bounces_address_idx').on(t.leadId, t.address),
  ],
);

/**
 * Whether a person's address takes our mail, per (lead, address): a changed address is another
 * key, so it starts clean. Written only by recordBounce, in the transaction of the bounce that
 * changes it; read when messages are decided and again when each send starts.
 */
export const emailAddressStates = pgTable(
  'email_address_states',
  {
    leadId: bigint('lead_id', { mode: 'number' })
      .notNull()
      .references(() => leads.id),
    address: text('address').notNull(),
    status: text('status', { enum: ['deliverable', 'undeliverable'] }).notNull(),
    /** The bounce that set the status (none until one changed it). */
    bounceId: bigint('bounce_id', { mode: 'number' }).references(() => emailBounces.id),
    changedAt: timestamp('changed_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.leadId, t.address] })],
);
