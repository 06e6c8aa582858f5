import { eq } from 'drizzle-orm';
import type pg from 'pg';
import type { Db } from '../db/index.ts';
import { withTransaction } from '../db/tx.ts';
import { AppError, errorMessage } from '../errors.ts';
import { streamAudience } from '../leads/audience.ts';
import { log } from '../log.ts';
import { enroll } from '../sequences/enroll.ts';
import { processEnrollments, type StepContext } from '../sequences/steps.ts';
import { campaignRuns } from './schema.ts';
import type { Campaign } from './types.ts';

export interface RunDeps {
  db: Db;
  pool: pg.Pool;
  steps: StepContext;
  batchSize: number;
}

export interface RunOptions {
  /** What makes this run's messages unique; the same occurrence never sends a step twice. */
  occurrence: string;
  trigger: 'manual' | 'schedule' | 'api';
  onProgress?: (counts: RunCounts) => void;
}

export interface RunCounts {
  audience: number;
  /** Newly enrolled in the campaign's sequence by this run. */
  enrolled: number;
  /** First-step messages recorded now, by outcome. */
  queued: number;
  suppressed: number;
  failed: number;
  /** Already enrolled by an earlier or concurrent run of the same occurrence, or still active. */
  existing: number;
}

/** Occurrence label for a run started by hand, unless the user names one. */
export const MANUAL_OCCURRENCE = 'manual';

/**
 * One run of a lead campaign: streams the audience and, per batch in one transaction, enrolls it
 * in the campaign's sequence and records every first step that is due now (consent re-checked,
 * rendered, queued or suppressed with its reason). Later steps follow as they fall due.
 */
export async function runCampaign(deps: RunDeps, campaign: Campaign, options: RunOptions): Promise<{ runId: number; counts: RunCounts }> {
  if (campaign.kind !== 'lead') {
    throw new AppError('unsupported', `${campaign.id} is an event campaign: its events enroll people, it is not run`);
  }
  const [run] = await deps.db
    .insert(campaignRuns)
    .values({ campaignId: campaign.id, occurrence: options.occurrence, trigger: options.trigger })
    .returning({ id: campaignRuns.id });
  const runId = run!.id;
  const counts: RunCounts = { audience: 0, enrolled: 0, queued: 0, suppressed: 0, failed: 0, existing: 0 };
  const { personas } = deps.steps.set;
  try {
    for await (const members of streamAudience(deps.db, campaign.audience ?? {}, personas, deps.batchSize)) {
      await withTransaction(deps.pool, async (client) => {
        const now = deps.steps.clock.now();
        const enrolled = await enroll(client, campaign, members.map((m) => ({ leadId: m.lead.id, occurrence: options.occurrence })), now);
        const dueNow = enrolled.filter((e) => e.nextDueAt.getTime() <= now.getTime());
        const recorded = await processEnrollments(client, deps.steps, dueNow, { runId });
        counts.audience += members.length;
        counts.enrolled += enrolled.length;
        counts.existing += members.length - enrolled.length;
        counts.queued += recorded.queued;
        counts.suppressed += recorded.suppressed;
        counts.failed += recorded.failed;
      });
      options.onProgress?.({ ...counts });
    }
    await deps.db.update(campaignRuns).set({ status: 'done', counts: { ...counts }, finishedAt: new Date() }).where(eq(campaignRuns.id, runId));
    log.info('run recorded', { campaign: campaign.id, occurrence: options.occurrence, run: runId, ...counts });
    return { runId, counts };
  } catch (err) {
    await deps.db
      .update(campaignRuns)
      .set({ status: 'failed', counts: { ...counts }, error: errorMessage(err), finishedAt: new Date() })
      .where(eq(campaignRuns.id, runId));
    throw err;
  }
}
