import type pg from 'pg';
import type { Campaign } from '../campaigns/types.ts';
import { inTransaction } from '../db/tx.ts';
import { recordEvents, type EventInput, type StoredEvent } from '../leads/events.ts';
import { leadValue, matchesFilter } from '../leads/filter.ts';
import { leadsByIds } from '../leads/store.ts';
import type { Lead } from '../leads/types.ts';
import { convertEnrollments, enroll, exitEnrollments, type DueEnrollment } from './enrollments.ts';
import { countOutcome, groupBy, recordSteps, type StepContext } from './steps.ts';

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

/** Ingest results added up (batches taken in one after another); none: all zero. */
export function addIngestResults(...results: IngestResult[]): IngestResult {
  const sum: IngestResult = {
    recorded: 0,
    duplicates: 0,
    rejected: [],
    enrolled: 0,
    exited: 0,
    converted: 0,
    queued: 0,
    suppressed: 0,
    failed: 0,
  };
  for (const r of results) {
    for (const key of ['recorded', 'duplicates', 'enrolled', 'exited', 'converted', 'queued', 'suppressed', 'failed'] as const)
      sum[key] += r[key];
    sum.rejected.push(...r.rejected);
  }
  return sum;
}

/**
 * Takes in a batch of events in one transaction: stores them, ends the sequences they exit,
 * counts conversions toward goals, enrolls the leads whose event triggers a campaign, and records
 * every first step that has no wait, so its message is queued before this returns. Handed a
 * client, it runs in the caller's transaction: how a change elsewhere (a contact closed) emits its
 * event together with the change, so neither happens without the other.
 */
export async function ingestEvents(db: pg.Pool | pg.PoolClient, ctx: StepContext, inputs: EventInput[]): Promise<IngestResult> {
  return addIngestResults(...(await ingestEach(db, ctx, inputs)));
}

/**
 * `ingestEvents`, answering each input's share of the result (a rejection keeps the input's index
 * in `inputs`): how requests taken in together (sequences/intake-group.ts) each get their own answer.
 */
export async function ingestEach(db: pg.Pool | pg.PoolClient, ctx: StepContext, inputs: EventInput[]): Promise<IngestResult[]> {
  return inTransaction(db, async (client) => {
    const now = ctx.clock.now();
    const each = inputs.map(() => addIngestResults());
    const stored = await recordEvents(client, inputs, now);
    for (const r of stored.rejected) each[r.index]!.rejected.push(r);
    for (const index of stored.duplicates) each[index]!.duplicates++;
    for (const e of stored.recorded) each[e.index]!.recorded++;
    if (stored.recorded.length === 0) return each;
    const campaigns = [...ctx.set.campaigns.values()];

    // Exits and goals per event name, one statement each; a lead's ended enrollments count toward its first event of the name.
    for (const [name, events] of groupBy(stored.recorded, (e) => e.name)) {
      const indexOfLead = new Map<number, number>();
      for (const e of [...events].reverse()) indexOfLead.set(e.leadId, e.index);
      const leadEvents = events.map((e) => ({ leadId: e.leadId, at: e.occurredAt }));
      const exits = campaigns.filter((c) => c.exit_on?.includes(name)).map((c) => c.id);
      for (const leadId of await exitEnrollments(client, leadEvents, exits, `exit_on:${name}`, now))
        each[indexOfLead.get(leadId)!]!.exited++;
      // A goal converts the lead's active enrollments; event sequences end there, lead campaigns go on.
      const goals = campaigns.filter((c) => c.goal?.event === name);
      const ending = goals.filter((c) => c.kind === 'event').map((c) => c.id);
      const converted = await convertEnrollments(
        client,
        leadEvents,
        goals.map((c) => c.id),
        ending,
        now,
      );
      for (const leadId of converted) each[indexOfLead.get(leadId)!]!.converted++;
    }

    const leadById = await leadsByIds(
      client,
      stored.recorded.map((e) => e.leadId),
    );
    const indexOfEvent = new Map(stored.recorded.map((e) => [e.id, e.index]));
    const dueNow: DueEnrollment[] = [];
    for (const campaign of campaigns.filter((c) => c.kind === 'event')) {
      const triggering = stored.recorded.filter(
        (e) => e.name === campaign.trigger!.event && triggers(campaign, e, leadById.get(e.leadId)!),
      );
      if (triggering.length === 0) continue;
      const requests = triggering.map((e) => ({ leadId: e.leadId, occurrence: `event:${e.id}`, triggerEventId: e.id }));
      const enrolled = await enroll(client, campaign, requests, now);
      for (const e of enrolled) each[indexOfEvent.get(e.triggerEventId!)!]!.enrolled++;
      dueNow.push(...enrolled.filter((e) => e.nextDueAt.getTime() <= now.getTime()));
    }
    const triggeredBy = new Map(dueNow.map((e) => [e.id, e.triggerEventId!]));
    const messages = await recordSteps(client, ctx, dueNow, {
      leads: leadById,
      triggers: new Map(stored.recorded.map((e) => [e.id, e.properties])),
    });
    for (const m of messages) countOutcome(each[indexOfEvent.get(triggeredBy.get(m.enrollmentId!)!)!]!, m.status);
    return each;
  });
}

/** `trigger.where` reads the event's properties first, then the lead's fields and attributes. */
function triggers(campaign: Campaign, event: StoredEvent, lead: Lead): boolean {
  const where = campaign.trigger!.where;
  if (!where) return true;
  return matchesFilter(where, (key) => (key in event.properties ? event.properties[key] : leadValue(lead, key)));
}
