import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, date, index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { campaignRuns } from '../campaigns/schema.ts';
import { consentEvents } from '../consent/schema.ts';
import { leads } from '../leads/schema.ts';

export const MESSAGE_STATUSES = ['queued', 'sending', 'sent', 'failed', 'suppressed'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/**
 * The outbox: one row per recipient, step and occurrence, whether it is to be sent or was
 * suppressed. `idempotency_key` is what makes re-runs and concurrent runs safe.
 */
export const messages = pgTable(
  'messages',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    idempotencyKey: text('idempotency_key').notNull().unique(),
    campaignId: text('campaign_id').notNull(),
    stepId: text('step_id').notNull(),
    occurrence: text('occurrence').notNull(),
    runId: bigint('run_id', { mode: 'number' }).references(() => campaignRuns.id),
    /** The enrollment whose step this message is. */
    enrollmentId: bigint('enrollment_id', { mode: 'number' }),
    leadId: bigint('lead_id', { mode: 'number' })
      .notNull()
      .references(() => leads.id),
    channel: text('channel', { enum: ['email', 'sms'] }).notNull(),
    purpose: text('purpose').notNull(),
    persona: text('persona').notNull(),
    template: text('template'),
    status: text('status', { enum: MESSAGE_STATUSES }).notNull(),
    /** Why the message is not sent (suppression) or why sending failed. */
    reason: text('reason'),
    /** The ledger event that allowed this message. */
    consentEventId: bigint('consent_event_id', { mode: 'number' }).references(() => consentEvents.id),
    toAddress: text('to_address'),
    subject: text('subject'),
    bodyText: text('body_text'),
    bodyHtml: text('body_html'),
    headers: jsonb('headers').$type<Record<string, string>>().notNull().default({}),
    attempts: integer('attempts').notNull().default(0),
    dueAt: timestamp('due_at', { withTimezone: true }).notNull().defaultNow(),
    claimedBy: bigint('claimed_by', { mode: 'number' }),
    claimedAt: timestamp('claimed_at', { withTimezone: true }),
    /**
     * When the send of the current claim started: set, with the consent then in force, right before
     * the message is handed to the provider. A row being sent that has it may have reached the
     * provider; one that has not never left.
     */
    attemptedAt: timestamp('attempted_at', { withTimezone: true }),
    providerId: text('provider_id'),
    /** What the provider reported after accepting (delivered, undelivered, failed …) and its error code. */
    deliveryStatus: text('delivery_status'),
    deliveryError: text('delivery_error'),
    possibleDuplicate: boolean('possible_duplicate').notNull().default(false),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** When the send that the provider accepted started: the instant its consent was read. */
    sentAt: timestamp('sent_at', { withTimezone: true }),
  },
  (t) => [
    // In the claim's order (due_at, id): a claim reads its batch off the front of the index and stops,
    // instead of fetching and sorting every queued row that shares a due time (a whole run's).
    index('messages_due_idx')
      .on(t.dueAt, t.id)
      .where(sql`status = 'queued'`),
    index('messages_claimed_idx')
      .on(t.claimedBy)
      .where(sql`status = 'sending'`),
    index('messages_campaign_idx').on(t.campaignId, t.occurrence),
    index('messages_lead_idx').on(t.leadId),
    // Delivery reports name the provider's id of a text (Twilio's SID); emails are never looked up by theirs.
    index('messages_provider_idx')
      .on(t.providerId)
      .where(sql`channel = 'sms'`),
    // An SMS reply is tied to the last text we sent that number.
    index('messages_sms_to_idx')
      .on(t.toAddress, t.sentAt)
      .where(sql`channel = 'sms' AND status = 'sent'`),
  ],
);

/**
 * Where the messages of each campaign occurrence stand, kept as deltas so that a report never
 * reads the messages themselves: statement triggers on messages (migration 0017) append, for each
 * statement that records or changes messages, one row per (state, reason, possible duplicate) whose
 * count changed, with the change. Appending never waits for a lock (a counter row updated in place
 * would make every dispatcher and run wait for the others' commits). The report sums the rows and
 * folds them into one per key now and then (report.ts). `state` is the status, with queued
 * messages that have been attempted before counted apart as `retrying`; `reason` is kept for
 * suppressed and failed messages, `possible_duplicate` for sent ones. `lead_id` is the smallest
 * lead of the rows counted: on a database sharded by lead, each delta lives on the shard of the
 * rows it counts (docs/SCALING.md). The step, persona, channel, day (UTC date of the send, or of the
 * recording while unsent) and whether the message was delivered (email: accepted by SMTP; SMS: Twilio
 * reported it delivered) are kept too, so that the campaign report splits its figures without
 * reading messages (migration 0021, campaigns/report.ts).
 */
export const messageCounts = pgTable(
  'message_counts',
  {
    campaignId: text('campaign_id').notNull(),
    occurrence: text('occurrence').notNull(),
    state: text('state').notNull(),
    reason: text('reason'),
    possibleDuplicate: boolean('possible_duplicate').notNull(),
    stepId: text('step_id').notNull(),
    persona: text('persona').notNull(),
    channel: text('channel').notNull(),
    day: date('day', { mode: 'string' }).notNull(),
    delivered: boolean('delivered').notNull(),
    leadId: bigint('lead_id', { mode: 'number' }).notNull(),
    n: bigint('n', { mode: 'number' }).notNull(),
  },
  (t) => [index('message_counts_campaign_idx').on(t.campaignId, t.occurrence)],
);
