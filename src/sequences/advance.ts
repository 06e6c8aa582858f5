import type pg from 'pg';
import { withTransaction } from '../db/tx.ts';
import { claimDueEnrollments } from './enrollments.ts';
import { processEnrollments, type StepContext, type StepCounts } from './steps.ts';

/**
 * Records every step that is due now, batch by batch, each batch one transaction. Driven by the
 * periodic `sequences-tick` job; first steps without a wait are recorded at once where the
 * enrollment happens, so this only carries sequences forward.
 */
export async function advanceDueSteps(pool: pg.Pool, ctx: StepContext, batchSize: number): Promise<StepCounts & { steps: number }> {
  const total = { queued: 0, suppressed: 0, failed: 0, steps: 0 };
  for (;;) {
    const counts = await withTransaction(pool, async (client) => {
      const due = await claimDueEnrollments(client, ctx.clock.now(), batchSize);
      return { ...(await processEnrollments(client, ctx, due)), steps: due.length };
    });
    total.queued += counts.queued;
    total.suppressed += counts.suppressed;
    total.failed += counts.failed;
    total.steps += counts.steps;
    if (counts.steps < batchSize) return total;
  }
}
