import type { RequestHandler } from 'express';
import client from 'prom-client';
import { AppError } from '../errors.ts';
import { counter, processRegistry } from '../metrics.ts';

/**
 * The admission gate of event intake (POST /events and the Segment routes). Past `maxInFlight`
 * requests being taken in at once by this process, a request is answered 429 with `Retry-After`
 * before its body is read, so nothing of it is recorded and its sender retries it later; the
 * requests let in keep their latency instead of every request waiting longer and longer for the
 * pool. Counted per process: each `serve` guards its own pool.
 */

/** When each request in flight started (performance.now()), by a sequence number: a Map keeps insertion order, so the first is the oldest. */
const inFlight = new Map<number, number>();
let sequence = 0;

/** Seconds a refused sender should wait: an intake request takes milliseconds, a second drains a burst. */
export const RETRY_AFTER_SECONDS = 1;

const refusals = counter('touchpoint_event_intake_refused_total', 'Event intake requests answered 429 because too many were in flight');
new client.Gauge({
  name: 'touchpoint_event_intake_in_flight',
  help: 'Event intake requests being taken in by this process now',
  registers: [processRegistry],
  collect() {
    this.set(inFlight.size);
  },
});
new client.Gauge({
  name: 'touchpoint_event_intake_lag_seconds',
  help: 'How long the oldest event intake request in flight has been waiting (0 when none is): intake lag',
  registers: [processRegistry],
  collect() {
    const oldest = inFlight.values().next();
    this.set(oldest.done ? 0 : (performance.now() - oldest.value) / 1000);
  },
});

export function intakeLimit(maxInFlight: number): RequestHandler {
  return (_req, res, next) => {
    if (inFlight.size >= maxInFlight) {
      refusals.inc();
      res.set('Retry-After', String(RETRY_AFTER_SECONDS));
      throw new AppError(
        'overloaded',
        `event intake is at capacity (${maxInFlight} requests in flight); retry after ${RETRY_AFTER_SECONDS} s`,
      );
    }
    const id = ++sequence;
    inFlight.set(id, performance.now());
    // 'close' comes for every response, answered or cut off, so the slot is always given back.
    res.once('close', () => inFlight.delete(id));
    next();
  };
}
