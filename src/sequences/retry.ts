import type pg from 'pg';
import type { Campaign } from '../campaigns/types.ts';
import { withTransaction } from '../db/tx.ts';
import { AppError } from '../errors.ts';
import { discardFailedSteps } from '../messages/discard.ts';
import { resendFailedSends } from '../messages/resend.ts';
import { claimHeldEnrollments, saveOutcomes, type Outcome } from './enrollments.ts';
import { movedOn, processEnrollments, type StepContext, type StepCounts } from './steps.ts';

export interface RetryOptions {
  /** Only this step. */
  step?: string;
  /** Only failures with this reason (`render_error`, `rejected`, `attempts_exhausted`). */
  reason?: string;
  /** Move the held people past their failed step instead of recording it again. */
  skip?: boolean;
}

export interface RetryCounts extends StepCounts {
  /** People whose failed step was recorded again (queued, suppressed or failed once more). */
  retried: number;
  /** People moved past their failed step (`skip`). */
  skipped: number;
  /** Messages whose send failed for good at the provider, queued to be sent again. */
  resent: number;
}

/**
 * After a fix (a template, an address): records again, as of now, the failed step of every person
 * a failure holds in this campaign, batch by batch, each batch one transaction. The failed row
 * gives way to the new one under the same idempotency key, so a step still reaches a person at
 * most once however often this runs; a step that fails again holds them again. With `skip`, the
 * failure stays on record and the people go on to their next step. Messages the provider refused
 * for good, or that ran out of attempts (a fix of the server, a domain), are queued again as they
 * were (messages/resend.ts); `skip` leaves them failed.
 */
export async function retryFailedSteps(
  pool: pg.Pool,
  ctx: StepContext,
  campaign: Campaign,
  options: RetryOptions,
  batchSize: number,
): Promise<RetryCounts> {
  if (options.step && !campaign.steps.some((s) => s.id === options.step)) {
    throw new AppError(
      'invalid_input',
      `${campaign.id} has no step '${options.step}' (its steps: ${campaign.steps.map((s) => s.id).join(', ')})`,
    );
  }
  const total: RetryCounts = { retried: 0, skipped: 0, resent: 0, queued: 0, suppressed: 0, failed: 0 };
  if (!options.skip) total.resent = await resendFailedSends(pool, campaign.id, options, ctx.clock.now());
  let afterId = 0;
  for (;;) {
    const claimed = await withTransaction(pool, async (client) => {
      const held = await claimHeldEnrollments(client, campaign.id, options, afterId, batchSize);
      afterId = held.at(-1)?.id ?? afterId;
      const now = ctx.clock.now();
      if (options.skip) {
        const outcomes = held.map((e): Outcome => {
          const index = campaign.steps.findIndex((s) => s.id === e.currentStep);
          if (index >= 0) return movedOn(campaign, index, e.id, now);
          return { id: e.id, status: 'exited', currentStep: e.currentStep, nextDueAt: null, exitReason: 'step_removed' };
        });
        await saveOutcomes(client, outcomes, now);
        total.skipped += held.length;
        return held.length;
      }
      await discardFailedSteps(
        client,
        held.map((e) => ({ enrollmentId: e.id, stepId: e.currentStep! })),
      );
      const counts = await processEnrollments(
        client,
        ctx,
        held.map((e) => ({ ...e, nextDueAt: now })),
      );
      total.retried += held.length;
      total.queued += counts.queued;
      total.suppressed += counts.suppressed;
      total.failed += counts.failed;
      return held.length;
    });
    if (claimed < batchSize) return total;
  }
}
