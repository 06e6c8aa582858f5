import type { RequestHandler } from 'express';
import type { Engine } from '../engine.ts';

/**
 * Prometheus text format, aggregates only (no personal data), so scrapers need no API key.
 */
export function metricsHandler(engine: Engine): RequestHandler {
  return async (_req, res) => {
    const [rows, runs] = await Promise.all([engine.messages.gauges(), engine.campaigns.runGauges()]);
    const lines = [
      '# HELP touchpoint_messages Messages in the outbox by status and channel.',
      '# TYPE touchpoint_messages gauge',
      ...rows.map((r) => `touchpoint_messages{status="${r.status}",channel="${r.channel}"} ${r.n}`),
      '# HELP touchpoint_runs Campaign runs by status.',
      '# TYPE touchpoint_runs gauge',
      ...runs.map((r) => `touchpoint_runs{status="${r.status}"} ${r.n}`),
    ];
    res.type('text/plain; version=0.0.4').send(lines.join('\n') + '\n');
  };
}
