import { Router } from 'express';
import type { Engine } from '../../engine.ts';
import { requirePermission } from '../auth.ts';
import { validateQuery } from '../validate.ts';
import { repeatsQuery } from './schemas.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Reports across campaigns and queues (a campaign's own report is GET /campaigns/:id/report):
 * counts, rates and averages only, never what anyone wrote, so every role may read them.
 */
export function reportsRouter(engine: Engine): Router {
  const router = Router();

  router.get('/repeats', requirePermission('read'), async (req, res) => {
    const query = validateQuery<{ from?: Date; to?: Date }>(req, repeatsQuery);
    const to = query.to ?? engine.clock.now();
    const from = query.from ?? new Date(to.getTime() - 30 * DAY_MS);
    res.json(await engine.inbox.repeatRates({ from, to }));
  });

  router.get('/csat', requirePermission('read'), async (_req, res) => {
    res.json(await engine.inbox.csatReport());
  });

  return router;
}
