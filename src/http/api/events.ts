import { Router } from 'express';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import type { EventInput } from '../../leads/events.ts';
import { requirePermission } from '../auth.ts';
import { jsonBody } from '../body.ts';
import { validateBatch } from '../validate.ts';
import { eventsBody } from './schemas.ts';

export function eventsRouter(engine: Engine): Router {
  const router = Router();

  /**
   * One event or a batch. Events naming a lead we cannot find or create, and events of a batch
   * holding a NUL, are refused with 422 and their reasons; the others in the same batch are kept
   * (the answer says which were which).
   */
  router.post('/', requirePermission('write'), jsonBody('batch'), async (req, res) => {
    const { batch, items, refused } = validateBatch<EventInput>(req, eventsBody);
    const result = await engine.ingestEvents(items.map((i) => i.value));
    // Indices of the intake are those of the events it was given: map them back to the request's.
    const rejected = [...refused, ...result.rejected.map((r) => ({ ...r, index: items[r.index]!.index }))].sort(
      (a, b) => a.index - b.index,
    );
    const summary = {
      recorded: result.recorded,
      duplicates: result.duplicates,
      enrolled: result.enrolled,
      exited: result.exited,
      converted: result.converted,
      queued: result.queued,
      suppressed: result.suppressed,
      failed: result.failed,
      rejected,
    };
    if (rejected.length > 0) {
      const total = items.length + refused.length;
      throw new AppError('unprocessable', `${rejected.length} of ${total} event(s) refused; the others were recorded`, {
        details: rejected.map((r) => (batch ? `[${r.index}] ${r.reason}` : r.reason)),
        body: summary,
      });
    }
    res.status(result.recorded > 0 ? 201 : 200).json(summary);
  });

  return router;
}
