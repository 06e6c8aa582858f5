import { Router } from 'express';
import type { Engine } from '../../engine.ts';
import { requirePermission } from '../auth.ts';
import { validateQuery } from '../validate.ts';
import { messagesQuery } from './schemas.ts';

/** The outbox as the API shows it: newest first, paged by id. */
export function messagesRouter(engine: Engine): Router {
  const router = Router();
  router.get('/', requirePermission('read'), async (req, res) => {
    res.json(await engine.messages.list(validateQuery(req, messagesQuery)));
  });

  return router;
}
