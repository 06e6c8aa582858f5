import { Router } from 'express';
import Joi from 'joi';
import type { Engine } from '../../engine.ts';
import { MESSAGE_STATUSES } from '../../messages/schema.ts';
import { requirePermission } from '../auth.ts';
import { validateQuery } from '../validate.ts';

/** The outbox as the API shows it: newest first, paged by id. */
export function messagesRouter(engine: Engine): Router {
  const router = Router();
  const query = Joi.object({
    campaign: Joi.string(),
    status: Joi.string().valid(...MESSAGE_STATUSES),
    before: Joi.number().integer().min(1),
    limit: Joi.number().integer().min(1).max(500).default(100),
  });

  router.get('/', requirePermission('read'), async (req, res) => {
    res.json(await engine.messages.list(validateQuery(req, query)));
  });

  return router;
}
