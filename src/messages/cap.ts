import type pg from 'pg';
import { durationMs } from '../campaigns/duration.ts';
import type { Campaign } from '../campaigns/types.ts';
import { LOCKS, lockForTransaction } from '../db/locks.ts';
import { statement, type Queryable } from '../db/statement.ts';

const COUNTED = statement(
  'messages.counted-for-cap',
  `SELECT lead_id, coalesce(sent_at, due_at) AS t FROM messages
    WHERE lead_id = ANY($1::bigint[]) AND purpose = $2 AND status IN ('queued', 'sending', 'sent')
      AND coalesce(sent_at, due_at) > $3 AND coalesce(sent_at, due_at) <= $4
    ORDER BY 2`,
);

/**
 * Times of the messages that count against a campaign's frequency cap (queued, sending or sent,
 * for its purpose, across all campaigns), for a group of leads whose steps fall due, sorted per
 * lead. For a plan, which records nothing.
 */
export async function capTimes(
  db: Queryable,
  campaign: Campaign,
  group: { leadId: number; nextDueAt: Date }[],
): Promise<Map<number, number[]>> {
  const per = durationMs(campaign.frequency_cap!.per);
  const earliest = Math.min(...group.map((e) => e.nextDueAt.getTime()));
  const latest = Math.max(...group.map((e) => e.nextDueAt.getTime()));
  const leadIds = group.map((e) => e.leadId);
  const { rows } = await db.query<{ lead_id: number; t: Date }>(COUNTED, [
    leadIds,
    campaign.purpose,
    new Date(earliest - per),
    // Deferred messages land up to `per` later, and a window may push them another day or so.
    new Date(latest + 2 * per + 2 * 86_400_000),
  ]);
  const times = new Map<number, number[]>(leadIds.map((id) => [id, []]));
  for (const r of rows) times.get(r.lead_id)!.push(r.t.getTime());
  return times;
}

/**
 * The same, for recording: each lead is locked until the transaction ends first, so two campaigns
 * never both take a lead's last slot.
 */
export async function lockedCapTimes(
  client: pg.PoolClient,
  campaign: Campaign,
  group: { leadId: number; nextDueAt: Date }[],
): Promise<Map<number, number[]>> {
  for (const id of [...new Set(group.map((e) => e.leadId))].sort((a, b) => a - b)) await lockForTransaction(client, LOCKS.frequencyCap, id);
  return capTimes(client, campaign, group);
}
