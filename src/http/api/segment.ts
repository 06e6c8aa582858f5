import { Router, type Response } from 'express';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import { eventInputSchema, type EventInput } from '../../leads/events.ts';
import {
  identifyToRecord,
  SEGMENT_ITEM_SCHEMAS,
  segmentEventName,
  trackToEvent,
  withBatchContext,
  type SegmentIdentify,
  type SegmentTrack,
  type SegmentType,
} from '../../leads/segment.ts';
import type { LeadInput } from '../../leads/store.ts';
import { validateLeadRecord } from '../../leads/validation.ts';
import { addIngestResults } from '../../sequences/triggers.ts';
import { requirePermission } from '../auth.ts';
import { jsonBody } from '../body.ts';
import { intakeLimit } from '../intake.ts';
import { validateBody } from '../validate.ts';
import { ingestSummary, refuseRejected } from './events.ts';
import { segmentBatchBody, segmentIdentifyBody, segmentTrackBody } from './schemas.ts';

/** One message of a request, checked and translated: a lead to save, an event to record, or nothing (page, screen, …). */
type Item = { index: number; lead: LeadInput } | { index: number; event: EventInput } | { index: number };

/**
 * Segment's Tracking API (leads/segment.ts): `track` records an event through the same intake as
 * POST /events (triggers, re-entry, consent), `identify` saves the lead as POST /leads does, and
 * `batch` does both in the order given. Every message is checked before anything is written; a
 * problem names the message's index (`batch[3]`).
 */
export function segmentRouter(engine: Engine): Router {
  const router = Router();
  // The gate after the key and role, before the body: a refused request is never read.
  const write = [requirePermission('write'), intakeLimit(engine.config.eventsMaxInFlight), jsonBody('batch')];

  router.post('/track', ...write, async (req, res) => {
    const message = { ...validateBody<SegmentTrack>(req, segmentTrackBody), type: 'track' as const };
    await answer(res, await translate(engine, [message], '', []));
  });
  router.post('/identify', ...write, async (req, res) => {
    const message = { ...validateBody<SegmentIdentify>(req, segmentIdentifyBody), type: 'identify' as const };
    await answer(res, await translate(engine, [message], '', []));
  });
  router.post('/batch', ...write, async (req, res) => {
    const body = validateBody<{ batch: { type: SegmentType }[]; context?: Record<string, unknown> }>(req, segmentBatchBody);
    const errors: string[] = [];
    const messages = body.batch.map((item, index) => {
      const { value, error } = SEGMENT_ITEM_SCHEMAS[item.type].validate(withBatchContext(item, body.context), { abortEarly: false });
      if (error) errors.push(...error.details.map((d) => `batch[${index}]: ${d.message}`));
      // A message that failed its schema is not translated: its problems are already named.
      return error ? undefined : (value as { type: SegmentType });
    });
    await answer(res, await translate(engine, messages, 'batch', errors));
  });

  /** Saves and records the items in order, runs of the same kind together, and answers with what happened. */
  async function answer(res: Response, { items, warnings }: { items: Item[]; warnings: string[] }) {
    const counts = { identified: 0, created: 0, ignored: 0 };
    const events: { index: number; event: EventInput }[] = [];
    const results = [];
    for (let at = 0; at < items.length;) {
      const item = items[at]!;
      if ('lead' in item) {
        const run = takeWhile(items, at, (i) => 'lead' in i) as { lead: LeadInput }[];
        const saved = await engine.leads.save(run.map((i) => i.lead));
        counts.identified += run.length;
        counts.created += saved.filter((s) => s.created).length;
        at += run.length;
      } else if ('event' in item) {
        const run = takeWhile(items, at, (i) => 'event' in i) as { index: number; event: EventInput }[];
        const offset = events.length;
        events.push(...run);
        const result = await engine.ingestEvents(run.map((i) => i.event));
        results.push({ ...result, rejected: result.rejected.map((r) => ({ ...r, index: r.index + offset })) });
        at += run.length;
      } else {
        counts.ignored++;
        at++;
      }
    }
    const merged = addIngestResults(...results);
    const summary = { ...counts, ...ingestSummary(merged, (i) => events[i]!.index), warnings };
    refuseRejected(summary, events.length, (r) => `[${r.index}] ${r.reason}`);
    res.status(counts.created + summary.recorded > 0 ? 201 : 200).json(summary);
  }

  return router;
}

/**
 * Translates checked messages into leads and events, validating each with the rules of POST
 * /leads and POST /events. An identify merges into the lead as known before it (in the database,
 * or from an earlier identify of the same batch), since it only sets the traits it names.
 */
async function translate(engine: Engine, messages: ({ type: SegmentType } | undefined)[], where: string, errors: string[]) {
  const items: Item[] = [];
  const warnings: string[] = [];
  const known = new Map<string, LeadInput | undefined>();
  const at = (index: number, text: string) => (where ? `${where}[${index}]: ${text}` : text);
  for (const [index, message] of messages.entries()) {
    if (message === undefined) continue;
    if (message.type === 'track') {
      const track = message as SegmentTrack;
      const { value, error } = eventInputSchema.validate(trackToEvent(track), { abortEarly: false });
      if (segmentEventName(track.event) === undefined) errors.push(at(index, `event '${track.event}' has no letter to start a name with`));
      else if (error) errors.push(...error.details.map((d) => at(index, d.message)));
      else items.push({ index, event: value });
    } else if (message.type === 'identify') {
      const identify = message as SegmentIdentify;
      const person = String(identify.userId ?? identify.anonymousId);
      if (!known.has(person)) known.set(person, await engine.leads.find(person));
      const result = validateLeadRecord(identifyToRecord(identify, known.get(person)), engine.config.phoneRegion);
      if ('errors' in result) errors.push(...result.errors.map((e) => at(index, e)));
      else {
        known.set(person, result.lead);
        warnings.push(...result.warnings.map((w) => at(index, w)));
        items.push({ index, lead: result.lead });
      }
    } else items.push({ index });
  }
  if (errors.length > 0) {
    // In the order of the messages, whichever check found the problem.
    const order = (e: string) => Number(/^\w*\[(\d+)\]/.exec(e)?.[1] ?? 0);
    throw new AppError('invalid_input', 'invalid request body', { details: errors.sort((a, b) => order(a) - order(b)) });
  }
  return { items, warnings };
}

function takeWhile<T>(items: T[], from: number, same: (item: T) => boolean): T[] {
  let end = from;
  while (end < items.length && same(items[end]!)) end++;
  return items.slice(from, end);
}
