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
  };
}

/**
 * Starts leads on a campaign's first step, due after its `wait`. A lead already enrolled for the
 * occurrence, or still active in the campaign, is left alone (unique indexes decide, so concurrent
 * runs and events cannot double-enroll). Returns the enrollments created.
 */
export async function enroll(client: pg.PoolClient, campaign: Campaign, requests: EnrollRequest[], now: Date): Promise<DueEnrollment[]> {
  if (requests.length === 0) return [];
  const first = campaign.steps[0]!;
  const due = new Date(now.getTime() + (first.wait ? durationMs(first.wait) : 0));
  const { rows } = await client.query<EnrollmentRow>(
    `INSERT INTO enrollments (campaign_id, lead_id, occurrence, current_step, next_due_at, trigger_event_id, enrolled_at)
     SELECT $1, r.lead_id, r.occurrence, $2, $3, r.event_id, $4
       FROM unnest($5::bigint[], $6::text[], $7::bigint[]) AS r(lead_id, occurrence, event_id)
     ON CONFLICT DO NOTHING
     RETURNING id, campaign_id, lead_id, occurrence, current_step, next_due_at, converted_at`,
    [
      campaign.id,
      first.id,
      due,
      now,
      requests.map((r) => r.leadId),
      requests.map((r) => r.occurrence),
      requests.map((r) => r.triggerEventId ?? null),
    ],
  );
  return rows.map(toDue);
}

/**
 * The leads a trigger may enroll again under the campaign's `reentry` rule: `never` (default) once
 * ever, `always` whenever not active, `{after}` when not active and the last entry is that old.
 */
export async function reentryAllowed(client: pg.PoolClient, campaign: Campaign, leadIds: number[], now: Date): Promise<Set<number>> {
  const { rows } = await client.query<{ lead_id: number; last: Date; active: boolean }>(
    `SELECT lead_id, max(enrolled_at) AS last, bool_or(status = 'active') AS active
       FROM enrollments WHERE campaign_id = $1 AND lead_id = ANY($2::bigint[]) GROUP BY lead_id`,
    [campaign.id, leadIds],
  );
  const history = new Map(rows.map((r) => [r.lead_id, r]));
  const rule = campaign.reentry ?? 'never';
  return new Set(
    leadIds.filter((id) => {
      const past = history.get(id);
      if (!past) return true;
      if (past.active || rule === 'never') return false;
      return rule === 'always' || past.last.getTime() <= now.getTime() - durationMs(rule.after);
    }),
  );
}

/**
 * Claims due enrollments for processing (SKIP LOCKED: several processes advance side by side).
 */
export async function claimDueEnrollments(client: pg.PoolClient, now: Date, limit: number): Promise<DueEnrollment[]> {
  const { rows } = await client.query<EnrollmentRow>(
    `SELECT id, campaign_id, lead_id, occurrence, current_step, next_due_at, converted_at
       FROM enrollments WHERE status = 'active' AND next_due_at <= $1
      ORDER BY next_due_at, id LIMIT $2
      FOR UPDATE SKIP LOCKED`,
    [now, limit],
  );
  return rows.map(toDue);
}
