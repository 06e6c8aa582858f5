import { Router } from 'express';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import type { EventInput } from '../../leads/events.ts';
import { requirePermission } from '../auth.ts';
import { validateBody } from '../validate.ts';
import { eventsBody } from './schemas.ts';

export function eventsRouter(engine: Engine): Router {
  const router = Router();

  /**
   * One event or a batch. Events naming a lead we cannot find or create are refused with 422 and
   * their reasons; the others in the same batch are kept (the answer says which were which).
   */
  router.post('/', requirePermission('write'), async (req, res) => {
    const body = validateBody<EventInput | EventInput[]>(req, eventsBody);
    const inputs = Array.isArray(body) ? body : [body];
    const result = await engine.ingestEvents(inputs);
    const summary = {
      recorded: result.recorded,
      duplicates: result.duplicates,
      enrolled: result.enrolled,
      exited: result.exited,
      converted: result.converted,
      queued: result.queued,
      suppressed: result.suppressed,
      failed: result.failed,
      rejected: result.rejected,
    };
    if (result.rejected.length > 0) {
      throw new AppError('unprocessable', `${result.rejected.length} of ${inputs.length} event(s) refused; the others were recorded`, {
        details: result.rejected.map((r) => (Array.isArray(body) ? `[${r.index}] ${r.reason}` : r.reason)),
        body: summary,
      });
    }
    res.status(result.recorded > 0 ? 201 : 200).json(summary);
  });

  return router;
}
