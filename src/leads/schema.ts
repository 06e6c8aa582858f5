import { sql } from 'drizzle-orm';
import { bigint, bigserial, index, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/** A person we may contact, identified by the marketer's own `external_id`. */
export const leads = pgTable(
  'leads',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    externalId: text('external_id').notNull().unique(),
    email: text('email'),
    phone: text('phone'),
    firstName: text('first_name'),
    lastName: text('last_name'),
    locale: text('locale'),
    timezone: text('timezone'),
    persona: text('persona'),
    tags: text('tags')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    attributes: jsonb('attributes').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    /** Set when the person's data was erased; the row stays so the ledger keeps its references. */
    erasedAt: timestamp('erased_at', { withTimezone: true }),
  },
  // No index on tags: audiences walk the primary key and filter (leads/audience.ts), whose cost is
  // linear by construction; a GIN index tempted the planner into a bitmap scan and sort per batch
  // (quadratic) and cost a third of a bulk import's time.
  (t) => [
    // Whether anyone was ever erased, answered at once (new leads inherit an erased person's withdrawals).
    index('leads_erased_idx')
      .on(t.id)
      .where(sql`${t.erasedAt} IS NOT NULL`),
    // Replies are matched to people by address and number.
    index('leads_email_lower_idx').on(sql`lower(${t.email})`),
    index('leads_phone_idx').on(t.phone),
  ],
);

/**
 * What a lead did (signed_up, order_placed, …), as reported by the customer's systems. The
 * optional `event_key` is the sender's id for the event: the same key twice is one event.
 */
export const events = pgTable(
  'events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    eventKey: text('event_key').unique(),
    leadId: bigint('lead_id', { mode: 'number' })
      .notNull()
      .references(() => leads.id),
    name: text('name').notNull(),
    properties: jsonb('properties').$type<Record<string, unknown>>().notNull().default({}),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('events_lead_idx').on(t.leadId, t.occurredAt), index('events_name_idx').on(t.name, t.leadId)],
);

/**
 * Access requests (GDPR Art. 15) answered for a person: who asked for their data bundle and when
 * (access-request.ts). Kept after erasure, like the ledger: the row points at the emptied lead.
 */
export const accessRequests = pgTable(
  'access_requests',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    leadId: bigint('lead_id', { mode: 'number' })
      .notNull()
      .references(() => leads.id),
    /** Who asked: `user:<email>`, `key:<name>` or `cli`. */
    requestedBy: text('requested_by').notNull(),
    format: text('format').notNull(),
    requestedAt: timestamp('requested_at', { withTimezone: true }).notNull(),
  },
  (t) => [index('access_requests_lead_idx').on(t.leadId, t.requestedAt)],
);
