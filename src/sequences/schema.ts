import { sql } from 'drizzle-orm';
import { bigint, bigserial, index, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { events, leads } from '../leads/schema.ts';

export const ENROLLMENT_STATUSES = ['active', 'completed', 'exited'] as const;

/**
 * A lead's way through one campaign's steps. `current_step` is the id of the next step to record
 * and `next_due_at` when; step ids (not positions) are kept so edited campaigns stay on course.
 * One enrollment per (campaign, lead, occurrence), and at most one active per (campaign, lead).
 */
export const enrollments = pgTable(
  'enrollments',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    campaignId: text('campaign_id').notNull(),
    leadId: bigint('lead_id', { mode: 'number' })
      .notNull()
      .references(() => leads.id),
    occurrence: text('occurrence').notNull(),
    status: text('status', { enum: ENROLLMENT_STATUSES }).notNull().default('active'),
    currentStep: text('current_step'),
    nextDueAt: timestamp('next_due_at', { withTimezone: true }),
    exitReason: text('exit_reason'),
    triggerEventId: bigint('trigger_event_id', { mode: 'number' }).references(() => events.id),
    enrolledAt: timestamp('enrolled_at', { withTimezone: true }).notNull(),
    convertedAt: timestamp('converted_at', { withTimezone: true }),
    /** When the person first answered a message of this enrollment (steps with `unless: [replied]` skip). */
    repliedAt: timestamp('replied_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('enrollments_occurrence_idx').on(t.campaignId, t.leadId, t.occurrence),
    uniqueIndex('enrollments_one_active_idx')
      .on(t.campaignId, t.leadId)
      .where(sql`status = 'active'`),
    index('enrollments_due_idx')
      .on(t.nextDueAt)
      .where(sql`status = 'active'`),
    index('enrollments_lead_idx').on(t.leadId),
  ],
);
