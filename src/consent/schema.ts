import { sql } from 'drizzle-orm';
import { bigint, bigserial, index, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { leads } from '../leads/schema.ts';

/**
 * The consent ledger: append-only (triggers refuse UPDATE, DELETE and TRUNCATE) and hash-chained:
 * a BEFORE INSERT trigger (migration 0008) takes the chain lock, numbers the event, links it to the
 * previous one (`prev_hash`) and seals it (`hash`, SHA-256 over `consent_event_canonical`), so
 * `touchpoint consent verify` can name the first event that was altered or removed. A bulk writer
 * holding the chain lock may insert events it sealed itself (consent/seal.ts, migration 0019); a
 * statement trigger checks that every insert extends the chain where it ends. It also keeps
 * `subject_hash`, a keyed hash of the address the consent is for, which survives erasure of the
 * lead. Current state is derived into `consent_state` in the same transaction as each append.
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
    /** Which version of the consent notice the person saw, and a SHA-256 of its text. */
    noticeVersion: text('notice_version'),
    noticeHash: text('notice_hash'),
    /** Keyed hash of the channel's address (email or phone) at the time: recognises a person after erasure. */
    subjectHash: text('subject_hash'),
    prevHash: text('prev_hash'),
    hash: text('hash'),
  },
  (t) => [
    index('consent_events_key_idx').on(t.leadId, t.channel, t.purpose, t.occurredAt),
    index('consent_events_subject_idx').on(t.subjectHash),
    // A campaign's report counts the opt-outs its messages led to: few withdrawals among many grants.
    index('consent_events_withdraw_idx')
      .on(t.id)
      .where(sql`action = 'withdraw'`),
  ],
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
