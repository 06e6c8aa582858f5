import type pg from 'pg';
import { durationMs } from '../campaigns/duration.ts';

export interface FrequencyCap {
  max: number;
  per: string;
  /** Over the cap, wait for room (default) or skip the message. */
  on_cap?: 'defer' | 'skip';
}

/** Namespace of the transaction locks that keep two campaigns from both taking a lead's last slot. */
const CAP_LOCK_NAMESPACE = 7_245_004;

/**
 * Times of the messages that count against a cap (queued, sending or sent, for the purpose,
 * across all campaigns) for a batch of leads, locked per lead until the transaction ends.
 */
export async function cappedTimes(
  client: pg.Pool | pg.PoolClient,
  leadIds: number[],
  purpose: string,
  around: { from: Date; to: Date },
): Promise<Map<number, number[]>> {
  for (const id of [...new Set(leadIds)].sort((a, b) => a - b)) {
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [CAP_LOCK_NAMESPACE, id]);
  }
  const { rows } = await client.query<{ lead_id: number; t: Date }>(
    `SELECT lead_id, coalesce(sent_at, due_at) AS t FROM messages
      WHERE lead_id = ANY($1::bigint[]) AND purpose = $2 AND status IN ('queued', 'sending', 'sent')
        AND coalesce(sent_at, due_at) > $3 AND coalesce(sent_at, due_at) <= $4
      ORDER BY 2`,
    [leadIds, purpose, around.from, around.to],
  );
  const times = new Map<number, number[]>();
  for (const r of rows) {
    const list = times.get(r.lead_id);
    if (list) list.push(r.t.getTime());
    else times.set(r.lead_id, [r.t.getTime()]);
  }
  return times;
}

/**
 * When a message wanted at `wanted` may go under the cap, given the lead's counted message times
 * (sorted); `adjust` moves a candidate into the send window. Undefined means skip.
 */
export function capSendTime(cap: FrequencyCap, times: number[], wanted: Date, adjust: (t: Date) => Date): Date | undefined {
  const per = durationMs(cap.per);
  let candidate = adjust(wanted);
  for (let round = 0; round < 10; round++) {
    const t = candidate.getTime();
    const inWindow = times.filter((x) => x > t - per && x <= t);
    if (inWindow.length < cap.max) return candidate;
    if (cap.on_cap === 'skip') return undefined;
    // Room opens when enough of the oldest messages in the window have aged out of it.
    candidate = adjust(new Date(inWindow[inWindow.length - cap.max]! + per));
  }
  return candidate;
}
