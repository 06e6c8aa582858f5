import type { Server } from 'node:http';
import express from 'express';
import type { Engine } from '../engine.ts';
import { opsRouter } from './ops.ts';

/**
 * The HTTP listener of `touchpoint worker` (WORKER_HTTP_PORT), which has no app of its own: the
 * health and readiness of that process. Nothing on it reads or changes a record.
 */
export async function startWorkerListener(engine: Engine, port: number): Promise<Server> {
  const app = express();
  app.disable('x-powered-by');
  app.use(opsRouter(engine));
  const server = app.listen(port);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  return server;
}
