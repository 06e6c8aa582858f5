import type pg from 'pg';
import { durationMs } from '../campaigns/duration.ts';
import type { Campaign } from '../campaigns/types.ts';
import { statement, type Queryable } from '../db/statement.ts';
import { ONE_SHOT_OCCURRENCE } from '../scheduler/schedule.ts';

/** An enrollment as step processing needs it (a row of `enrollments`). */
export interface DueEnrollment {
  id: number;
  campaignId: string;
  leadId: number;
  occurrence: string;
  currentStep: string | null;
  nextDueAt: Date;
  convertedAt: Date | null;
  repliedAt: Date | null;
  /** The event that started it (event campaigns): its properties are `event.*` in templates. */
  triggerEventId: number | null;
}

/** Where an enrollment goes after its step was recorded. */
export interface Outcome {
  id: number;
  status: 'active' | 'completed' | 'exited';
  currentStep: string | null;
  nextDueAt: Date | null;
  exitReason: string | null;
}

export interface EnrollRequest {
  leadId: number;
  occurrence: string;
  triggerEventId?: number;
}

const DUE = `id, campaign_id AS "campaignId", lead_id AS "leadId", occurrence, current_step AS "currentStep", next_due_at AS "nextDueAt",
  converted_at AS "convertedAt", replied_at AS "repliedAt", trigger_event_id AS "triggerEventId"`;

/**
 * Runs of a one-shot campaign (occurrence `once`) recorded before it had one occurrence used
 * `manual` (by hand) or `at:<instant>` (scheduled); an enrollment under either counts as the
 * `once` one, so upgrading sends nobody a step again.
 */
const ONE_SHOT_BEFORE = `(p.occurrence = 'manual' OR p.occurrence LIKE 'at:%')`;

const ENROLL = statement(
  'sequences.enroll',
  `INSERT INTO enrollments (campaign_id, lead_id, occurrence, current_step, next_due_at, trigger_event_id, enrolled_at)
   SELECT $1, r.lead_id, r.occurrence, $2, $3, r.event_id, $4
     FROM unnest($5::bigint[], $6::text[], $7::bigint[]) AS r(lead_id, occurrence, event_id)
    WHERE ($8::timestamptz IS NULL OR NOT EXISTS (
            SELECT 1 FROM enrollments p WHERE p.campaign_id = $1 AND p.lead_id = r.lead_id AND p.enrolled_at > $8::timestamptz))
      AND (r.occurrence <> $9 OR NOT EXISTS (
            SELECT 1 FROM enrollments p WHERE p.campaign_id = $1 AND p.lead_id = r.lead_id AND ${ONE_SHOT_BEFORE}))
   ON CONFLICT DO NOTHING
   RETURNING ${DUE}`,
);

const ENROLLED = statement(
  'sequences.enrolled',
  `SELECT p.lead_id AS "leadId", bool_or(p.occurrence = $3 OR ($3 = $4 AND ${ONE_SHOT_BEFORE})) AS "thisOccurrence"
     FROM enrollments p
    WHERE p.campaign_id = $1 AND p.lead_id = ANY($2::bigint[])
      AND (p.occurrence = $3 OR p.status = 'active' OR ($3 = $4 AND ${ONE_SHOT_BEFORE}))
    GROUP BY p.lead_id`,
);

const CLAIM_DUE = statement(
  'sequences.claim-due',
  `SELECT ${DUE} FROM enrollments WHERE status = 'active' AND next_due_at <= $1
    ORDER BY next_due_at, id LIMIT $2
    FOR UPDATE SKIP LOCKED`,
);

const CLAIM_HELD = statement(
  'sequences.claim-held',
  `SELECT ${DUE} FROM enrollments e
    WHERE e.campaign_id = $1 AND e.id > $5 AND e.status = 'active' AND e.next_due_at IS NULL
      AND ($2::text IS NULL OR e.current_step = $2)
      AND EXISTS (SELECT 1 FROM messages m WHERE m.enrollment_id = e.id AND m.step_id = e.current_step AND m.status = 'failed'
                     AND ($3::text IS NULL OR m.reason = $3))
    ORDER BY e.id LIMIT $4
    FOR UPDATE SKIP LOCKED`,
);

const SAVE_OUTCOMES = statement(
  'sequences.save-outcomes',
  `UPDATE enrollments e
      SET status = o.status, current_step = o.current_step, next_due_at = o.next_due_at, exit_reason = o.exit_reason,
          finished_at = CASE WHEN o.status = 'active' THEN NULL ELSE $6::timestamptz END
     FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::text[])
          AS o(id, status, current_step, next_due_at, exit_reason)
    WHERE e.id = o.id`,
);

const EXIT = statement(
  'sequences.exit',
  `UPDATE enrollments e SET status = 'exited', exit_reason = $2, next_due_at = NULL, finished_at = $3
     FROM unnest($4::bigint[], $5::timestamptz[]) AS x(lead_id, before)
    WHERE e.status = 'active' AND e.lead_id = x.lead_id AND e.campaign_id = ANY($1::text[]) AND e.enrolled_at <= x.before
   RETURNING e.lead_id AS "leadId"`,
);

const CONVERT = statement(
  'sequences.convert',
  `UPDATE enrollments e
      SET converted_at = coalesce(e.converted_at, x.at),
          status = CASE WHEN e.campaign_id = ANY($2::text[]) THEN 'exited' ELSE e.status END,
          exit_reason = CASE WHEN e.campaign_id = ANY($2::text[]) THEN 'goal' ELSE e.exit_reason END,
          next_due_at = CASE WHEN e.campaign_id = ANY($2::text[]) THEN NULL ELSE e.next_due_at END,
          finished_at = CASE WHEN e.campaign_id = ANY($2::text[]) THEN $3 ELSE e.finished_at END
     FROM unnest($4::bigint[], $5::timestamptz[]) AS x(lead_id, at)
    WHERE e.status = 'active' AND e.lead_id = x.lead_id AND e.campaign_id = ANY($1::text[]) AND e.enrolled_at <= x.at
   RETURNING e.lead_id AS "leadId"`,
);

const REPLIED = statement('sequences.mark-replied', `UPDATE enrollments SET replied_at = coalesce(replied_at, $2) WHERE id = $1`);

/**
 * The instant after which an earlier enrollment blocks a new one, by the campaign's `reentry`
 * rule: `never` (the default for event campaigns) any earlier one, `{after}` one that recent,
 * `always` none. Lead campaigns are keyed by occurrence instead. An active enrollment always
 * blocks (a unique index says so).
 */
function reentryCutoff(campaign: Campaign, now: Date): Date | string | null {
  if (campaign.kind !== 'event') return null;
  const rule = campaign.reentry ?? 'never';
  if (rule === 'never') return '-infinity';
  if (rule === 'always') return null;
  return new Date(now.getTime() - durationMs(rule.after));
}

/**
 * Starts leads on a campaign's first step, due after its `wait`, in one statement. A lead already
 * enrolled for the occurrence, still active in the campaign, or barred by the re-entry rule is
 * left alone; unique indexes decide, so concurrent runs and events cannot double-enroll. Returns
 * the enrollments created.
 */
export async function enroll(client: pg.PoolClient, campaign: Campaign, requests: EnrollRequest[], now: Date): Promise<DueEnrollment[]> {
  if (requests.length === 0) return [];
  const first = campaign.steps[0]!;
  const due = new Date(now.getTime() + (first.wait ? durationMs(first.wait) : 0));
  const { rows } = await client.query<DueEnrollment>(ENROLL, [
    campaign.id,
    first.id,
    due,
    now,
    requests.map((r) => r.leadId),
    requests.map((r) => r.occurrence),
    requests.map((r) => r.triggerEventId ?? null),
    reentryCutoff(campaign, now),
    ONE_SHOT_OCCURRENCE,
  ]);
  return rows;
}

/**
 * Why a run of this occurrence would leave these leads alone, as `enroll` decides: `already_sent`
 * when they were enrolled for the occurrence, `in_sequence` when they are still going through an
 * enrollment of another one. Leads not in the map would be enrolled.
 */
export async function enrolledAlready(
  db: Queryable,
  campaignId: string,
  leadIds: number[],
  occurrence: string,
): Promise<Map<number, 'already_sent' | 'in_sequence'>> {
  const { rows } = await db.query<{ leadId: number; thisOccurrence: boolean }>(ENROLLED, [
    campaignId,
    leadIds,
    occurrence,
    ONE_SHOT_OCCURRENCE,
  ]);
  return new Map(rows.map((r) => [r.leadId, r.thisOccurrence ? 'already_sent' : 'in_sequence']));
}

/** Claims due enrollments for processing (SKIP LOCKED: several processes advance side by side). */
export async function claimDueEnrollments(client: pg.PoolClient, now: Date, limit: number): Promise<DueEnrollment[]> {
  const { rows } = await client.query<DueEnrollment>(CLAIM_DUE, [now, limit]);
  return rows;
}

/**
 * Claims enrollments of a campaign held on a failed step (see sequences/steps.ts), optionally of
 * one step and one failure reason, in id order after `afterId` (a retry that fails again holds
 * the person again, and must not take them twice). SKIP LOCKED, and a claimed one is no longer
 * held once its transaction commits: two retries at once take each enrollment once.
 */
export async function claimHeldEnrollments(
  client: pg.PoolClient,
  campaignId: string,
  filter: { step?: string; reason?: string },
  afterId: number,
  limit: number,
): Promise<DueEnrollment[]> {
  const { rows } = await client.query<DueEnrollment>(CLAIM_HELD, [campaignId, filter.step ?? null, filter.reason ?? null, limit, afterId]);
  return rows;
}

export async function saveOutcomes(client: pg.PoolClient, outcomes: Outcome[], now: Date): Promise<void> {
  if (outcomes.length === 0) return;
  await client.query(SAVE_OUTCOMES, [
    outcomes.map((o) => o.id),
    outcomes.map((o) => o.status),
    outcomes.map((o) => o.currentStep),
    outcomes.map((o) => o.nextDueAt),
    outcomes.map((o) => o.exitReason),
    now,
  ]);
}

/** One event of a lead, at the time it happened: what ends or converts the enrollments that began before it. */
export interface LeadEvent {
  leadId: number;
  at: Date;
}

/**
 * Ends the active enrollments of these campaigns that began before the event of their lead, for
 * events of one name (one statement for all of them). Answers the lead of each enrollment ended.
 */
export async function exitEnrollments(
  client: pg.PoolClient,
  events: LeadEvent[],
  campaignIds: string[],
  reason: string,
  now: Date,
): Promise<number[]> {
  return endForEvents(client, EXIT, campaignIds, reason, now, events);
}

/**
 * A goal reached converts each lead's enrollments in these campaigns active before it; those of
 * `ending` (event sequences) end there, the others go on and skip steps with `unless: [goal]`.
 * Answers the lead of each enrollment converted.
 */
export async function convertEnrollments(
  client: pg.PoolClient,
  events: LeadEvent[],
  campaignIds: string[],
  ending: string[],
  now: Date,
): Promise<number[]> {
  return endForEvents(client, CONVERT, campaignIds, ending, now, events);
}

/** Runs EXIT or CONVERT (campaigns, their second parameter, now, then the events as two arrays); the lead of each enrollment changed. */
async function endForEvents(
  client: pg.PoolClient,
  sql: typeof EXIT,
  campaignIds: string[],
  second: string | string[],
  now: Date,
  events: LeadEvent[],
): Promise<number[]> {
  if (campaignIds.length === 0 || events.length === 0) return [];
  const { rows } = await client.query<{ leadId: number }>(sql, [
    campaignIds,
    second,
    now,
    events.map((e) => e.leadId),
    events.map((e) => e.at),
  ]);
  return rows.map((r) => r.leadId);
}

/** The person answered a message of this enrollment: later steps with `unless: [replied]` skip. */
export async function markReplied(client: pg.PoolClient, enrollmentId: number, at: Date): Promise<void> {
  await client.query(REPLIED, [enrollmentId, at]);
}
