import { bigint, bigserial, index, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { leads } from '../leads/schema.ts';

/**
 * The consent ledger: append-only (a trigger in the migration refuses UPDATE and DELETE). Current
 * state is derived from it into `consent_state` in the same transaction as each append.
 */
export const consentEvents = pgTable(
  'consent_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    leadId: bigint('lead_id', { mode: 'number' })
      .notNull()
      .references(() => leads.id),
    channel: text('channel', { enum: ['email', 'sms'] }).notNull(),
    purpose: text('purpose').notNull(),
    action: text('action', { enum: ['grant', 'confirm', 'withdraw'] }).notNull(),
    source: text('source').notNull(),
    evidence: jsonb('evidence').$type<Record<string, unknown>>().notNull().default({}),
    actor: text('actor').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
    recordedAt: timestamp('recorded_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('consent_events_key_idx').on(t.leadId, t.channel, t.purpose, t.occurredAt)],
);

/** Current consent per (lead, channel, purpose) and the ledger event that decided it. */
export const consentState = pgTable(
  'consent_state',
  {
    leadId: bigint('lead_id', { mode: 'number' })
      .notNull()
      .references(() => leads.id),
    channel: text('channel', { enum: ['email', 'sms'] }).notNull(),
    purpose: text('purpose').notNull(),
    status: text('status', { enum: ['granted', 'confirmed', 'withdrawn'] }).notNull(),
    decidingEventId: bigint('deciding_event_id', { mode: 'number' })
      .notNull()
      .references(() => consentEvents.id),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.leadId, t.channel, t.purpose] })],
);
