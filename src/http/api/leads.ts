import { Router, type Request } from 'express';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import { accessRequestArchive, type AccessRequestFormat } from '../../leads/access-request.ts';
import type { LeadInput } from '../../leads/store.ts';
import { leadFields, type Lead } from '../../leads/types.ts';
import { validateLeadRecord } from '../../leads/validation.ts';
import { apiViewer, requirePermission } from '../auth.ts';
import { jsonBody } from '../body.ts';
import { bodyOf, validateQuery } from '../validate.ts';
import { accessRequestQuery, LEAD_BATCH } from './schemas.ts';

/** A lead as the API answers it: the same snake_case fields it accepts. */
const leadAnswer = (lead: Lead) => ({ id: lead.id, ...leadFields(lead), tags: lead.tags, attributes: lead.attributes });

export function leadsRouter(engine: Engine): Router {
  const router = Router();

  const leadOf = async (req: Request) => {
    const lead = await engine.leads.find(req.params.externalId as string);
    if (!lead) throw new AppError('not_found', `no lead '${req.params.externalId}'`);
    return lead;
  };

  /** One lead object or an array; all are validated before any is written. */
  router.post('/', requirePermission('write'), jsonBody('batch'), async (req, res) => {
    const given = bodyOf(req);
    const many = Array.isArray(given);
    // No body at all is checked as an empty object (as validateBody does), not crashed on.
    const records: unknown[] = many ? given : [given ?? {}];
    if (records.length === 0 || records.length > LEAD_BATCH) {
      throw new AppError('invalid_input', `send between 1 and ${LEAD_BATCH} leads per request`);
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
    const results = await engine.leads.save(leads);
    const body = results.map((r) => ({ external_id: r.externalId, id: r.id, created: r.created }));
    res.status(results.some((r) => r.created) ? 201 : 200).json(many ? { leads: body, warnings } : { ...body[0], warnings });
  });

  router.get('/:externalId', requirePermission('read'), async (req, res) => {
    res.json(leadAnswer(await leadOf(req)));
  });

  router.get('/:externalId/timeline', requirePermission('read'), async (req, res) => {
    const lead = await leadOf(req);
    // Reply subjects and texts only where the key's reach holds the reply (none for marketers).
    const replies = engine.inbox.replyReach(apiViewer(req));
    res.json({ lead: lead.externalId, timeline: await engine.leads.timeline(lead.id, { replies }) });
  });

  // An access request: recorded (who, when) with the bundle it is answered with (leads/access-request.ts).
  router.get('/:externalId/export', requirePermission('consent'), async (req, res) => {
    const key = req.apiKey!;
    const { format } = validateQuery<{ format: AccessRequestFormat }>(req, accessRequestQuery);
    const bundle = await engine.leads.accessRequest({
      externalId: req.params.externalId as string,
      requestedBy: key.user ? `user:${key.user.email}` : `key:${key.name}`,
      format,
    });
    const name = `access-request-${bundle.lead.external_id as string}`;
    if (format === 'zip') res.attachment(`${name}.zip`).send(accessRequestArchive(bundle));
    else res.attachment(`${name}.json`).json(bundle);
  });

  return router;
}
