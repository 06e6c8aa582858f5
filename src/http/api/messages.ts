import { and, desc, eq, lt, type SQL } from 'drizzle-orm';
import { Router } from 'express';
import Joi from 'joi';
import type { Engine } from '../../engine.ts';
import { MESSAGE_STATUSES, messages } from '../../messages/schema.ts';
import { leads } from '../../leads/schema.ts';
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
    const q = validateQuery(req, query);
    const filters: SQL[] = [];
    if (q.campaign) filters.push(eq(messages.campaignId, q.campaign));
    if (q.status) filters.push(eq(messages.status, q.status));
    if (q.before) filters.push(lt(messages.id, q.before));
    const rows = await engine.database.db
      .select({
        id: messages.id,
        lead: leads.externalId,
        campaign: messages.campaignId,
        step: messages.stepId,
        occurrence: messages.occurrence,
        channel: messages.channel,
        persona: messages.persona,
        template: messages.template,
        status: messages.status,
        reason: messages.reason,
        consent_event: messages.consentEventId,
        to: messages.toAddress,
        subject: messages.subject,
        attempts: messages.attempts,
        possible_duplicate: messages.possibleDuplicate,
        provider_id: messages.providerId,
        created_at: messages.createdAt,
        sent_at: messages.sentAt,
      })
      .from(messages)
      .innerJoin(leads, eq(leads.id, messages.leadId))
      .where(and(...filters))
      .orderBy(desc(messages.id))
      .limit(q.limit);
    res.json({ messages: rows, next: rows.length === q.limit ? rows[rows.length - 1]!.id : null });
  });

  return router;
}
