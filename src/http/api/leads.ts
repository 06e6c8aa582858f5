import { Router } from 'express';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import { findLeadByExternalId, upsertLeads, type LeadInput } from '../../leads/store.ts';
import { leadTimeline } from '../../leads/timeline.ts';
import { validateLeadRecord } from '../../leads/validation.ts';
import { can } from '../../access/roles.ts';
import { clientDb } from '../../db/index.ts';
import { withTransaction } from '../../db/tx.ts';
import { carryOverWithdrawals } from '../../leads/erase.ts';
import { requirePermission } from '../auth.ts';

const MAX_BATCH = 1000;

export function leadsRouter(engine: Engine): Router {
  const router = Router();
  const { db } = engine.database;

  /** One lead object or an array; all are validated before any is written. */
  router.post('/', requirePermission('write'), async (req, res) => {
    const many = Array.isArray(req.body);
    const records: unknown[] = many ? req.body : [req.body];
    if (records.length === 0 || records.length > MAX_BATCH) {
      throw new AppError('invalid_input', `send between 1 and ${MAX_BATCH} leads per request`);
    }
    const leads: LeadInput[] = [];
    const errors: string[] = [];
    const warnings: string[] = [];
    const at = (i: number, text: string) => (many ? `[${i}] ${text}` : text);
    records.forEach((record, i) => {
      const result = validateLeadRecord(record, engine.config.phoneRegion);
      if ('errors' in result) errors.push(...result.errors.map((e) => at(i, e)));
      else {
        leads.push(result.lead);
        warnings.push(...result.warnings.map((w) => at(i, w)));
      }
    });
    if (errors.length > 0) throw new AppError('invalid_input', 'invalid lead', { details: errors });
    const results = await withTransaction(engine.database.pool, async (client) => {
      const upserted = await upsertLeads(clientDb(client), leads);
      await carryOverWithdrawals(client, upserted.filter((r) => r.created).map((r) => r.id));
      return upserted;
    });
    const body = results.map((r) => ({ external_id: r.externalId, id: r.id, created: r.created }));
    res.status(results.some((r) => r.created) ? 201 : 200).json(many ? { leads: body, warnings } : { ...body[0], warnings });
  });

  router.get('/:externalId', requirePermission('read'), async (req, res) => {
    const lead = await findLeadByExternalId(db, req.params.externalId as string);
    if (!lead) throw new AppError('not_found', `no lead '${req.params.externalId}'`);
    res.json(lead);
  });

  router.get('/:externalId/timeline', requirePermission('read'), async (req, res) => {
    const lead = await findLeadByExternalId(db, req.params.externalId as string);
    if (!lead) throw new AppError('not_found', `no lead '${req.params.externalId}'`);
    const replyText = can(req.apiKey!.role, 'inbound');
    res.json({ lead: lead.externalId, timeline: await leadTimeline(engine.database.pool, lead.id, { replyText }) });
  });

  return router;
}
