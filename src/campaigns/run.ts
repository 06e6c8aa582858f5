import type pg from 'pg';
import { withTransaction } from '../db/tx.ts';
import { AppError, errorMessage } from '../errors.ts';
import { analyzeOutbox } from '../messages/claim.ts';
import { streamAudience, type Member } from '../leads/audience.ts';
import { log, withLogContext } from '../log.ts';
import { enroll } from '../sequences/enrollments.ts';
import { defaultOccurrence } from '../scheduler/schedule.ts';
import { processEnrollments, type StepContext } from '../sequences/steps.ts';
import { finishRun, startRun, type RunTrigger } from './runs.ts';
import type { Campaign } from './types.ts';

export interface RunDeps {
  pool: pg.Pool;
  steps: StepContext;
  batchSize: number;
}

export interface RunOptions {
  /**
   * What makes this run's messages unique; the same occurrence never sends a step twice. Named
   * only to send again deliberately; by default the campaign's own (scheduler/schedule.ts).
   */
  occurrence?: string;
  trigger: RunTrigger;
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

/**
 * One run of a lead campaign: streams the audience and, per batch in one transaction, enrolls it
 * in the campaign's sequence and records every first step that is due now (consent re-checked,
 * rendered, queued or suppressed with its reason). Later steps follow as they fall due.
 */
export async function runCampaign(deps: RunDeps, campaign: Campaign, options: RunOptions): Promise<RunResult> {
  if (campaign.kind !== 'lead') {
    throw new AppError('unsupported', `${campaign.id} is an event campaign: its events enroll people, it is not run`);
  }
  const { clock } = deps.steps;
  const occurrence = options.occurrence ?? defaultOccurrence(campaign, clock.now());
  const runId = await startRun(deps.pool, { campaignId: campaign.id, occurrence, trigger: options.trigger }, clock.now());
  // Every line logged while this run records its messages carries its id.
  return withLogContext({ run_id: runId }, () => recordRun(deps, campaign, { ...options, occurrence }, runId));
}

export interface RunResult {
  runId: number;
  occurrence: string;
  counts: RunCounts;
}

/**
 * Batches recorded at once, each in its own transaction on its own connection: while one waits for
 * the database, the next is read, checked and rendered. Distinct batches hold distinct leads, so
 * their transactions never wait on each other.
 */
const BATCHES_IN_FLIGHT = 3;

async function recordRun(
  deps: RunDeps,
  campaign: Campaign,
  options: RunOptions & { occurrence: string },
  runId: number,
): Promise<RunResult> {
  const { clock } = deps.steps;
  const counts: RunCounts = { audience: 0, enrolled: 0, queued: 0, suppressed: 0, failed: 0, existing: 0 };
  const { personas } = deps.steps.set;
  const recordBatch = (members: Member[]) =>
    withTransaction(deps.pool, async (client) => {
      const now = clock.now();
      const enrolled = await enroll(
        client,
        campaign,
        members.map((m) => ({ leadId: m.lead.id, occurrence: options.occurrence })),
        now,
      );
      const dueNow = enrolled.filter((e) => e.nextDueAt.getTime() <= now.getTime());
      // The audience's walk already read these leads.
      const leads = new Map(members.map((m) => [m.lead.id, m.lead]));
      const recorded = await processEnrollments(client, deps.steps, dueNow, { runId, leads });
      counts.audience += members.length;
      counts.enrolled += enrolled.length;
      counts.existing += members.length - enrolled.length;
      counts.queued += recorded.queued;
      counts.suppressed += recorded.suppressed;
      counts.failed += recorded.failed;
    });
  // The dispatchers claim what the run queues while it records: they need the outbox's statistics
  // to know it is filling (messages/claim.ts), once after the first batch and again at the end.
  let analyzed: Promise<void> | undefined;
  const analyze = () =>
    analyzeOutbox(deps.pool).catch((err: unknown) => log.warn('could not refresh the outbox statistics', { error: errorMessage(err) }));
  try {
    const inFlight = new Set<Promise<void>>();
    let failure: { err: unknown } | undefined;
    for await (const members of streamAudience(deps.pool, campaign.audience ?? {}, personas, deps.batchSize)) {
      const batch: Promise<void> = recordBatch(members)
        .then(
          () => {
            // A run of one batch or less leaves the statistics to autovacuum.
            if (members.length >= deps.batchSize) analyzed ??= analyze();
            options.onProgress?.({ ...counts });
          },
          (err: unknown) => void (failure ??= { err }),
        )
        .finally(() => inFlight.delete(batch));
      inFlight.add(batch);
      if (inFlight.size >= BATCHES_IN_FLIGHT) await Promise.race(inFlight);
      if (failure) break;
    }
    await Promise.all(inFlight);
    if (failure) throw failure.err;
    await analyzed;
    if (counts.queued >= deps.batchSize) await analyze();
    await finishRun(deps.pool, runId, { counts }, clock.now());
    log.info('run recorded', { campaign: campaign.id, occurrence: options.occurrence, ...counts });
    return { runId, occurrence: options.occurrence, counts };
  } catch (err) {
    await finishRun(deps.pool, runId, { counts, error: errorMessage(err) }, clock.now());
    throw err;
  }
}
