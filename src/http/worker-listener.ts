import type { Server } from 'node:http';
import express from 'express';
import type { Engine } from '../engine.ts';
import { metricsHandler } from './metrics.ts';
import { opsRouter } from './ops.ts';
import { requestContext } from './request-context.ts';

/**
 * The HTTP listener of `touchpoint worker` (WORKER_HTTP_PORT), which has no app of its own: the
 * health, readiness and `/metrics` of that process, for probes and for Prometheus to scrape each
 * worker. Nothing on it reads or changes a record.
 */
export async function startWorkerListener(engine: Engine, port: number): Promise<Server> {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestContext);
  app.use(opsRouter(engine));
  app.get('/metrics', metricsHandler(engine));
  const server = app.listen(port);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  return server;
}
