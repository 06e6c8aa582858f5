import type pg from 'pg';
import { durationMs } from '../campaigns/duration.ts';
import type { Campaign } from '../campaigns/types.ts';
import type { DueEnrollment } from './steps.ts';

export interface EnrollRequest {
  leadId: number;
  occurrence: string;
  triggerEventId?: number;
}

interface EnrollmentRow {
  id: number;
  campaign_id: string;
  lead_id: number;
  occurrence: string;
  current_step: string | null;
  next_due_at: Date;
  converted_at: Date | null;
  replied_at: Date | null;
}

export function toDue(row: EnrollmentRow): DueEnrollment {
  return {
    id: row.id,
    campaignId: row.campaign_id,
    leadId: row.lead_id,
    occurrence: row.occurrence,
    currentStep: row.current_step,
    nextDueAt: row.next_due_at,
    convertedAt: row.converted_at,
    repliedAt: row.replied_at,
  };
}

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
  const { rows } = await client.query<EnrollmentRow>(
    `INSERT INTO enrollments (campaign_id, lead_id, occurrence, current_step, next_due_at, trigger_event_id, enrolled_at)
     SELECT $1, r.lead_id, r.occurrence, $2, $3, r.event_id, $4
       FROM unnest($5::bigint[], $6::text[], $7::bigint[]) AS r(lead_id, occurrence, event_id)
      WHERE $8::timestamptz IS NULL OR NOT EXISTS (
              SELECT 1 FROM enrollments p WHERE p.campaign_id = $1 AND p.lead_id = r.lead_id AND p.enrolled_at > $8::timestamptz)
     ON CONFLICT DO NOTHING
     RETURNING id, campaign_id, lead_id, occurrence, current_step, next_due_at, converted_at, replied_at`,
    [
      campaign.id,
      first.id,
      due,
      now,
      requests.map((r) => r.leadId),
      requests.map((r) => r.occurrence),
      requests.map((r) => r.triggerEventId ?? null),
      reentryCutoff(campaign, now),
    ],
  );
  return rows.map(toDue);
}

/**
 * Claims due enrollments for processing (SKIP LOCKED: several processes advance side by side).
 */
export async function claimDueEnrollments(client: pg.PoolClient, now: Date, limit: number): Promise<DueEnrollment[]> {
  const { rows } = await client.query<EnrollmentRow>(
    `SELECT id, campaign_id, lead_id, occurrence, current_step, next_due_at, converted_at, replied_at
       FROM enrollments WHERE status = 'active' AND next_due_at <= $1
      ORDER BY next_due_at, id LIMIT $2
      FOR UPDATE SKIP LOCKED`,
    [now, limit],
  );
  return rows.map(toDue);
}
