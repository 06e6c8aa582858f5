import { Router } from 'express';
import type { Engine } from '../../engine.ts';
import { requirePermission } from '../auth.ts';

/** Reports across campaigns and queues; a campaign's own report is GET /campaigns/:id/report. */
export function reportsRouter(engine: Engine): Router {
  const router = Router();

  // Counts and averages only, never what anyone wrote: every role may read them.
  router.get('/csat', requirePermission('read'), async (_req, res) => {
    res.json(await engine.inbox.csatReport());
  });

  return router;
}
