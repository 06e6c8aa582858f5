import { Router } from 'express';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import type { EventInput } from '../../leads/events.ts';
import type { IngestResult } from '../../sequences/triggers.ts';
import { requirePermission } from '../auth.ts';
import { jsonBody } from '../body.ts';
import { intakeLimit } from '../intake.ts';
import { validateBatch } from '../validate.ts';
import { eventsBody } from './schemas.ts';

type Refusal = { index: number; reason: string };

/**
 * The answer to an intake: its counts, and the events refused with their index in the request
 * (`indexOf` maps the intake's index of an event back to the request's; `refused` were set aside
 * before the intake). Shared by POST /events and the Segment routes.
 */
export function ingestSummary(result: IngestResult, indexOf: (index: number) => number, refused: Refusal[] = []) {
  const rejected = [...refused, ...result.rejected.map((r) => ({ ...r, index: indexOf(r.index) }))].sort((a, b) => a.index - b.index);
  return {
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
}

/** 422 with the whole summary when some events were refused: the others were recorded, and the sender must know which. */
export function refuseRejected(summary: { rejected: Refusal[] }, total: number, label: (r: Refusal) => string): void {
  const { rejected } = summary;
  if (rejected.length === 0) return;
  throw new AppError('unprocessable', `${rejected.length} of ${total} event(s) refused; the others were recorded`, {
    details: rejected.map(label),
    body: summary,
  });
}

export function eventsRouter(engine: Engine): Router {
  const router = Router();

  /**
   * One event or a batch. Events naming a lead we cannot find or create, and events of a batch
   * holding a NUL, are refused with 422 and their reasons; the others in the same batch are kept
   * (the answer says which were which).
   */
  router.post('/', requirePermission('write'), intakeLimit(engine.config.eventsMaxInFlight), jsonBody('batch'), async (req, res) => {
    const { batch, items, refused } = validateBatch<EventInput>(req, eventsBody);
    const result = await engine.ingestEvents(items.map((i) => i.value));
    const summary = ingestSummary(result, (i) => items[i]!.index, refused);
    refuseRejected(summary, items.length + refused.length, (r) => (batch ? `[${r.index}] ${r.reason}` : r.reason));
    res.status(result.recorded > 0 ? 201 : 200).json(summary);
  });

  return router;
}
