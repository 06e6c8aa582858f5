import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  text,
  timestamp,
  uniqueIndex,
  type AnyPgColumn,
} from 'drizzle-orm/pg-core';
import { users } from '../access/schema.ts';
import { leads } from '../leads/schema.ts';
import { messages } from '../messages/schema.ts';

/**
 * Webhook deliveries already handled, by the provider's id for them (Twilio's MessageSid): a
 * provider retrying or an attacker replaying a signed request changes nothing the second time.
 */
export const webhookReceipts = pgTable(
  'webhook_receipts',
  {
    provider: text('provider').notNull(),
    deliveryId: text('delivery_id').notNull(),
    kind: text('kind').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.provider, t.deliveryId] })],
);

export const CONTACT_STATUSES = ['new', 'assigned', 'accepted', 'closed'] as const;
export type ContactStatus = (typeof CONTACT_STATUSES)[number];
export const CONTACT_CATEGORIES = ['question', 'complaint', 'purchase-interest', 'opt-out', 'other'] as const;
export type ContactCategory = (typeof CONTACT_CATEGORIES)[number];
export const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export type Priority = (typeof PRIORITIES)[number];
/** How a sender was recognised (see receive.ts). */
export const IDENTIFICATIONS = ['token', 'headers', 'address', 'envelope', 'number'] as const;
export type IdentifiedBy = (typeof IDENTIFICATIONS)[number];
/**
 * Whether that recognition proves who wrote: `verified` (our signed reply token or Message-ID, or
 * a text from the number on file answering our last text to it) may change consent by itself;
 * `unverified` (a sender address or number anyone can claim) never does.
 */
export const TRUST_LEVELS = ['verified', 'unverified'] as const;
export type Trust = (typeof TRUST_LEVELS)[number];

/**
 * An inbound contact: one conversation of a person about one matter, which a service team works
 * on. It starts with one reply (email or SMS); the person's further messages on it are
 * `inbound_contact_messages` (see thread.ts). `message_id` is the campaign message it answers,
 * when we could tell; `lead_id` who wrote, when we know. Automatic replies are kept (kind
 * `auto-reply` / `bounce`) but closed at once and never queued.
 */
export const inboundContacts = pgTable(
  'inbound_contacts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    channel: text('channel', { enum: ['email', 'sms'] }).notNull(),
    /** The sender's own id for this delivery (email Message-ID, Twilio MessageSid): one contact per delivery. */
    externalId: text('external_id').notNull(),
    kind: text('kind', { enum: ['human', 'auto-reply', 'bounce'] }).notNull(),
    leadId: bigint('lead_id', { mode: 'number' }).references(() => leads.id),
    messageId: bigint('message_id', { mode: 'number' }).references(() => messages.id),
    /** How the sender was recognised: token, headers, address, envelope, number, or null (unidentified). */
    identifiedBy: text('identified_by', { enum: IDENTIFICATIONS }),
    /** Whether that proves who wrote (verified / unverified); null while unidentified. */
    trust: text('trust', { enum: TRUST_LEVELS }),
    campaignId: text('campaign_id'),
    stepId: text('step_id'),
    template: text('template'),
    fromAddress: text('from_address').notNull(),
    /** Email: the SMTP envelope sender (MAIL FROM), when the listener saw one; shown beside a header From it differs from. */
    envelopeFrom: text('envelope_from'),
    toAddress: text('to_address'),
    subject: text('subject'),
    /** The new part of the reply (quoted history removed): what rules match and lists show. */
    text: text('text').notNull(),
    /** The whole text body as received. */
    bodyText: text('body_text').notNull(),
    language: text('language'),
    /** How the reply feels, from -1 (negative) to 1 (positive), by a lexicon in its language (sentiment.ts). */
    sentiment: real('sentiment'),
    category: text('category', { enum: CONTACT_CATEGORIES }).notNull(),
    priority: text('priority', { enum: PRIORITIES }).notNull(),
    queue: text('queue'),
    /** The qualification rule that matched, if any. */
    rule: text('rule'),
    status: text('status', { enum: CONTACT_STATUSES }).notNull(),
    assigneeId: bigint('assignee_id', { mode: 'number' }).references(() => users.id),
    dueAt: timestamp('due_at', { withTimezone: true }),
    escalatedAt: timestamp('escalated_at', { withTimezone: true }),
    escalatedTo: bigint('escalated_to', { mode: 'number' }).references(() => users.id),
    resolution: text('resolution'),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull(),
    acceptedAt: timestamp('accepted_at', { withTimezone: true }),
    closedAt: timestamp('closed_at', { withTimezone: true }),
    /** When the person last wrote on it (its first reply or a later message): the 3-day window for joining it. */
    lastReceivedAt: timestamp('last_received_at', { withTimezone: true }),
    /** A repeat contact: the earlier contact of the same person and category (within 14 days) it follows. */
    repeatOf: bigint('repeat_of', { mode: 'number' }).references((): AnyPgColumn => inboundContacts.id),
  },
  (t) => [
    uniqueIndex('inbound_contacts_external_idx').on(t.channel, t.externalId),
    index('inbound_contacts_open_idx')
      .on(t.queue, t.status)
      .where(sql`status <> 'closed'`),
    index('inbound_contacts_due_idx')
      .on(t.dueAt)
      .where(sql`status IN ('new', 'assigned') AND escalated_at IS NULL`),
    // Also where a reply finds its conversation and a new contact the earlier one it repeats (thread.ts).
    index('inbound_contacts_lead_idx').on(t.leadId),
    // A campaign's report counts its replies.
    index('inbound_contacts_campaign_idx').on(t.campaignId),
  ],
);

/** What happened to a contact and who did it: received, assigned, accepted, replied, escalated, closed. */
export const inboundContactEvents = pgTable(
  'inbound_contact_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    contactId: bigint('contact_id', { mode: 'number' })
      .notNull()
      .references(() => inboundContacts.id),
    action: text('action').notNull(),
    actor: text('actor').notNull(),
    detail: jsonb('detail').$type<Record<string, unknown>>().notNull().default({}),
    at: timestamp('at', { withTimezone: true }).notNull(),
  },
  (t) => [index('inbound_contact_events_contact_idx').on(t.contactId)],
);

/**
 * The person's further messages on a contact, after the one that opened it (which the contact row
 * holds): one row per delivery, so a provider retrying one adds nothing. Their words are reply
 * text: read only through the contact, within the reader's reach, and emptied on erasure.
 */
export const inboundContactMessages = pgTable(
  'inbound_contact_messages',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    contactId: bigint('contact_id', { mode: 'number' })
      .notNull()
      .references(() => inboundContacts.id),
    channel: text('channel', { enum: ['email', 'sms'] }).notNull(),
    externalId: text('external_id').notNull(),
    fromAddress: text('from_address').notNull(),
    subject: text('subject'),
    text: text('text').notNull(),
    bodyText: text('body_text').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    uniqueIndex('inbound_contact_messages_external_idx').on(t.channel, t.externalId),
    index('inbound_contact_messages_contact_idx').on(t.contactId),
  ],
);

/**
 * Satisfaction answers (CSAT, 1–5): one per contact, the latest answer wins (`version` counts the
 * answers, so each one's csat_answered event has a key of its own). Agent, queue, campaign and step
 * are the contact's, copied when the answer comes so reports never depend on later reassignment.
 */
export const csatAnswers = pgTable(
  'csat_answers',
  {
    contactId: bigint('contact_id', { mode: 'number' })
      .primaryKey()
      .references(() => inboundContacts.id),
    leadId: bigint('lead_id', { mode: 'number' }).references(() => leads.id),
    score: integer('score').notNull(),
    comment: text('comment'),
    /** How it was given: `link` (the survey page) or the channel of a reply (`email`, `sms`). */
    via: text('via', { enum: ['link', 'email', 'sms'] }).notNull(),
    agentId: bigint('agent_id', { mode: 'number' }).references(() => users.id),
    queue: text('queue'),
    campaignId: text('campaign_id'),
    stepId: text('step_id'),
    version: integer('version').notNull().default(1),
    answeredAt: timestamp('answered_at', { withTimezone: true }).notNull(),
  },
  (t) => [check('csat_answers_score_check', sql`${t.score} BETWEEN 1 AND 5`), index('csat_answers_campaign_idx').on(t.campaignId)],
);
