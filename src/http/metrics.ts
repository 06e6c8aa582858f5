import type { RequestHandler } from 'express';
import type { Engine } from '../engine.ts';

/**
 * `/metrics` in the Prometheus text format: counts, latencies and gauges, no personal data, so
 * scrapers need no API key. Mounted by `serve` (app.ts) and by the worker's listener: each process
 * exposes its own counters; the database gauges are the same from any of them.
 */
export function metricsHandler(engine: Engine): RequestHandler {
  return async (_req, res) => {
    const { contentType, text } = await engine.metrics();
    res.set('Cache-Control', 'no-store').type(contentType).send(text);
  };
}
