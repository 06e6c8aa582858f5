import { bigint, bigserial, index, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { leads } from '../leads/schema.ts';

/**
 * One execution of a campaign for one occurrence (a scheduled instant, or a label for runs started
 * by hand). Several runs may share an occurrence; the messages' idempotency keys keep them apart.
 */
export const campaignRuns = pgTable(
  'campaign_runs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    campaignId: text('campaign_id').notNull(),
    occurrence: text('occurrence').notNull(),
    trigger: text('trigger', { enum: ['manual', 'schedule', 'api'] }).notNull(),
    status: text('status', { enum: ['running', 'done', 'failed'] })
      .notNull()
      .default('running'),
    counts: jsonb('counts').$type<Record<string, number>>().notNull().default({}),
    error: text('error'),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [index('campaign_runs_campaign_idx').on(t.campaignId, t.occurrence)],
);

/**
 * Test sends (campaigns/test-send.ts): one row per test message of a step, written before it is
 * handed to the channel and completed after, so every test that may have left is on record with
 * who asked for it and where it went. A table of its own, apart from `messages`: a test is not
 * marketing to anyone, so nothing that reads messages (consent at send start, counts and reports,
 * frequency caps, timelines, reply threading) can count it. The rendered text is not kept: it may
 * quote a lead, and erasure need not look here.
 */
export const testSends = pgTable(
  'test_sends',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    campaignId: text('campaign_id').notNull(),
    stepId: text('step_id').notNull(),
    channel: text('channel', { enum: ['email', 'sms'] }).notNull(),
    template: text('template').notNull(),
    /** Rendered for this lead (its id; null for a persona with sample data). */
    leadId: bigint('lead_id', { mode: 'number' }).references(() => leads.id),
    persona: text('persona').notNull(),
    locale: text('locale'),
    toAddress: text('to_address').notNull(),
    /** Who asked: `user:<email>`, `key:<prefix>` or `cli`. */
    requestedBy: text('requested_by').notNull(),
    status: text('status', { enum: ['sending', 'sent', 'failed'] }).notNull(),
    providerId: text('provider_id'),
    error: text('error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [index('test_sends_campaign_idx').on(t.campaignId, t.createdAt)],
);
