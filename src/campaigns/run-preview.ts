import type { PlanBatch } from './plan.ts';

/**
 * What a run is about to do, as the confirmation before it shows it (`run` on a terminal, the
 * web's Run… page): the plan of the occurrence the run will use, counted by step, channel and
 * outcome (`send`, or the reason a person is left out).
 */
export interface RunPreview {
  campaign: string;
  occurrence: string;
  send: number;
  suppressed: number;
  rows: { step: string; channel: string; outcome: string; count: number }[];
}

export async function runPreview(
  campaign: string,
  occurrence: string,
  batches: AsyncIterable<PlanBatch> | Iterable<PlanBatch>,
): Promise<RunPreview> {
  const counts = new Map<string, RunPreview['rows'][number]>();
  const bump = (step: string, channel: string, outcome: string) => {
    const key = `${step}\0${channel}\0${outcome}`;
    const row = counts.get(key) ?? { step, channel, outcome, count: 0 };
    row.count++;
    counts.set(key, row);
  };
  let send = 0;
  let suppressed = 0;
  for await (const batch of batches) {
    for (const r of batch.recipients) bump(r.step, r.channel, 'send');
    // A suppression is decided before a channel is (consent, address): it has none of its own.
    for (const s of batch.suppressed) bump(s.step, '-', s.reason);
    send += batch.recipients.length;
    suppressed += batch.suppressed.length;
  }
  const rows = [...counts.values()].sort(
    (a, b) => a.step.localeCompare(b.step) || Number(b.outcome === 'send') - Number(a.outcome === 'send') || b.count - a.count,
  );
  return { campaign, occurrence, send, suppressed, rows };
}
