import { Router } from 'express';
import type { Engine } from '../../engine.ts';
import { requirePermission } from '../auth.ts';
import { validateQuery } from '../validate.ts';
import { repeatsQuery } from './schemas.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Figures across campaigns and queues: counts and rates only, never what anyone wrote. */
export function reportsRouter(engine: Engine): Router {
  const router = Router();

  router.get('/repeats', requirePermission('read'), async (req, res) => {
    const query = validateQuery<{ from?: Date; to?: Date }>(req, repeatsQuery);
    const to = query.to ?? engine.clock.now();
    const from = query.from ?? new Date(to.getTime() - 30 * DAY_MS);
    res.json(await engine.inbox.repeatRates({ from, to }));
  });

  return router;
}
