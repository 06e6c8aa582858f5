import express from 'express';
import type { Engine } from '../engine.ts';

/**
 * What operators and orchestrators ask a process, without a key. `/healthz` is about the process:
 * it answers as long as the process runs, also while the database is away (restarting the process
 * would not bring that back). `/readyz` says whether it can do its work now: 503 with the reason
 * before it has started, while the database cannot be reached and once it is stopping, so a load
 * balancer sends it nothing meanwhile. `serve` mounts these on its app; `worker` serves them alone on
 * WORKER_HTTP_PORT (worker-listener.ts).
 */
export function opsRouter(engine: Engine): express.Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  router.get('/readyz', (_req, res) => {
    const readiness = engine.readiness();
    res.status(readiness.ready ? 200 : 503).json(readiness);
  });
  return router;
}
