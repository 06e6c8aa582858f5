import { statement, type Queryable } from '../db/statement.ts';
import { counter } from '../metrics.ts';

const START = statement(
  'campaigns.start-run',
  `INSERT INTO campaign_runs (campaign_id, occurrence, trigger, started_at) VALUES ($1, $2, $3, $4) RETURNING id`,
);
const FINISH = statement(
  'campaigns.finish-run',
  `UPDATE campaign_runs SET status = $2, counts = $3, error = $4, finished_at = $5 WHERE id = $1`,
);
const finished = counter('touchpoint_campaign_runs_total', 'Campaign runs finished, by outcome (done, failed).', ['outcome']);

export type RunTrigger = 'manual' | 'schedule' | 'api';

/** Records the start of a run; its id. */
export async function startRun(
  db: Queryable,
  run: { campaignId: string; occurrence: string; trigger: RunTrigger },
  now: Date,
): Promise<number> {
  const { rows } = await db.query<{ id: number }>(START, [run.campaignId, run.occurrence, run.trigger, now]);
  return rows[0]!.id;
}

/** Records how a run ended: its counts, and the error that stopped it, if one did. */
export async function finishRun(db: Queryable, id: number, outcome: { counts: object; error?: string }, now: Date): Promise<void> {
  const status = outcome.error === undefined ? 'done' : 'failed';
  await db.query(FINISH, [id, status, JSON.stringify(outcome.counts), outcome.error ?? null, now]);
  finished.inc({ outcome: status });
}

const LIST = statement(
  'campaigns.list-runs',
  `SELECT id, occurrence, trigger, status, counts, error, started_at AS "startedAt", finished_at AS "finishedAt"
     FROM campaign_runs WHERE campaign_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2`,
);

export interface RunRecord {
  id: number;
  occurrence: string;
  trigger: RunTrigger;
  status: 'running' | 'done' | 'failed';
  /** What the run recorded (enrolled, recorded, suppressed…), as its summary gave them. */
  counts: Record<string, number>;
  error: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

/** A campaign's latest runs, newest first. */
export async function listRuns(db: Queryable, campaignId: string, limit: number): Promise<RunRecord[]> {
  const { rows } = await db.query<RunRecord>(LIST, [campaignId, limit]);
  return rows;
}
