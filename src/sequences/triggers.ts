import type pg from 'pg';
import type { Campaign } from '../campaigns/types.ts';
import { withTransaction } from '../db/tx.ts';
import { leadValue, matchesFilter } from '../leads/filter.ts';
import { recordEvents, type EventInput, type StoredEvent } from '../leads/events.ts';
import type { Lead } from '../leads/types.ts';
import { enroll } from './enroll.ts';
import { loadLeads, processEnrollments, type DueEnrollment, type StepContext } from './steps.ts';

export interface IngestResult {
  recorded: number;
  duplicates: number;
  rejected: { index: number; reason: string }[];
  enrolled: number;
  exited: number;
  converted: number;
  /** First steps without a wait, recorded at once: queued, suppressed (with a reason) or failed. */
  queued: number;
  suppressed: number;
  failed: number;
}

/**
 * Takes in a batch of events in one transaction: stores them, ends the sequences they exit,
 * counts conversions toward goals, enrolls the leads whose event triggers a campaign, and records
 * every first step that has no wait, so its message is queued before this returns.
 */
export async function ingestEvents(pool: pg.Pool, ctx: StepContext, inputs: EventInput[]): Promise<IngestResult> {
  return withTransaction(pool, async (client) => {
    const now = ctx.clock.now();
    const stored = await recordEvents(client, inputs, now);
    const result: IngestResult = {
      recorded: stored.recorded.length,
      duplicates: stored.duplicates,
      rejected: stored.rejected,
      enrolled: 0,
      exited: 0,
      converted: 0,
      queued: 0,
      suppressed: 0,
      failed: 0,
    };
    if (stored.recorded.length === 0) return result;
    const campaigns = [...ctx.set.campaigns.values()];

    for (const event of stored.recorded) {
      const exits = campaigns.filter((c) => c.exit_on?.includes(event.name)).map((c) => c.id);
      result.exited += await endEnrollments(client, exits, event, `exit_on:${event.name}`, now);
      const goals = campaigns.filter((c) => c.goal?.event === event.name);
      result.converted += await convert(client, goals, event, now);
    }

    const leadById = await loadLeads(client, stored.recorded.map((e) => e.leadId));
    const dueNow: DueEnrollment[] = [];
    for (const campaign of campaigns.filter((c) => c.kind === 'event')) {
      const triggering = stored.recorded.filter((e) => e.name === campaign.trigger!.event && triggers(campaign, e, leadById.get(e.leadId)!));
      if (triggering.length === 0) continue;
      const requests = triggering.map((e) => ({ leadId: e.leadId, occurrence: `event:${e.id}`, triggerEventId: e.id }));
      const enrolled = await enroll(client, campaign, requests, now);
      result.enrolled += enrolled.length;
      dueNow.push(...enrolled.filter((e) => e.nextDueAt.getTime() <= now.getTime()));
    }
    return { ...result, ...(await processEnrollments(client, ctx, dueNow, { leads: leadById })) };
  });
}

/** `trigger.where` reads the event's properties first, then the lead's fields and attributes. */
function triggers(campaign: Campaign, event: StoredEvent, lead: Lead): boolean {
  const where = campaign.trigger!.where;
  if (!where) return true;
  return matchesFilter(where, (key) => (key in event.properties ? event.properties[key] : leadValue(lead, key)));
}

async function endEnrollments(client: pg.PoolClient, campaignIds: string[], event: StoredEvent, reason: string, now: Date): Promise<number> {
  if (campaignIds.length === 0) return 0;
  const { rowCount } = await client.query(
    `UPDATE enrollments SET status = 'exited', exit_reason = $3, next_due_at = NULL, finished_at = $4
      WHERE status = 'active' AND lead_id = $1 AND campaign_id = ANY($2::text[]) AND enrolled_at <= $5`,
    [event.leadId, campaignIds, reason, now, event.occurredAt],
  );
  return rowCount ?? 0;
}

/**
 * A goal event converts the lead's active enrollments; event sequences end there, lead campaigns
 * go on, and their steps with `unless: [goal]` are skipped.
 */
async function convert(client: pg.PoolClient, campaigns: Campaign[], event: StoredEvent, now: Date): Promise<number> {
  if (campaigns.length === 0) return 0;
  const { rowCount } = await client.query(
    `UPDATE enrollments
        SET converted_at = coalesce(converted_at, $3),
            status = CASE WHEN campaign_id = ANY($4::text[]) THEN 'exited' ELSE status END,
            exit_reason = CASE WHEN campaign_id = ANY($4::text[]) THEN 'goal' ELSE exit_reason END,
            next_due_at = CASE WHEN campaign_id = ANY($4::text[]) THEN NULL ELSE next_due_at END,
            finished_at = CASE WHEN campaign_id = ANY($4::text[]) THEN $5 ELSE finished_at END
      WHERE status = 'active' AND lead_id = $1 AND campaign_id = ANY($2::text[]) AND enrolled_at <= $3`,
    [event.leadId, campaigns.map((c) => c.id), event.occurredAt, campaigns.filter((c) => c.kind === 'event').map((c) => c.id), now],
  );
  return rowCount ?? 0;
}
