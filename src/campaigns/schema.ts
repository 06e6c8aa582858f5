import { bigserial, index, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

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
