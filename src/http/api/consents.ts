import { Router } from 'express';
import { EXPORT_HEADER, exportCsvLine, proofCsv } from '../../consent/proof.ts';
import { csvLine } from '../../csv.ts';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import { requirePermission } from '../auth.ts';
import { jsonBody } from '../body.ts';
import { validateBody, validateQuery } from '../validate.ts';
import { consentBody, consentCheckQuery, exportQuery, proofQuery } from './schemas.ts';

/**
 * Consent over the API: record grants and withdrawals with their evidence (a grant of email
 * marketing starts double opt-in), and, for compliance, answer as-of checks, proofs and exports.
 */
export function consentsRouter(engine: Engine): Router {
  const router = Router();

  const leadOf = async (externalId: string) => {
    const lead = await engine.leads.find(externalId);
    if (!lead) throw new AppError('not_found', `no lead '${externalId}'`);
    return lead;
  };

  router.post('/', requirePermission('write'), jsonBody('consent'), async (req, res) => {
    const body = validateBody(req, consentBody);
    const lead = await leadOf(body.lead);
    const { event, confirmation } = await engine.consent.record({
      leadId: lead.id,
      channel: body.channel,
      purpose: body.purpose,
      action: body.action,
      source: body.source,
      evidence: body.evidence,
      actor: `key:${req.apiKey!.name}`,
      occurredAt: body.occurred_at,
      notice: body.notice,
    });
    res
      .status(201)
      .json({ event, ...(confirmation ? { confirmation: { message: confirmation.messageId, expires_at: confirmation.expiresAt } } : {}) });
  });

  router.get('/check', requirePermission('consent'), async (req, res) => {
    const q = validateQuery(req, consentCheckQuery);
    const lead = await leadOf(q.lead);
    const at: Date = q.at ?? engine.clock.now();
    res.json({
      lead: q.lead,
      channel: q.channel,
      purpose: q.purpose,
      at,
      ...(await engine.consent.asOf(lead.id, q.channel, q.purpose, at)),
    });
  });

  router.get('/proof', requirePermission('consent'), async (req, res) => {
    const q = validateQuery(req, proofQuery);
    const proof = await engine.consent.proof(q.lead);
    if (q.format === 'csv') {
      res.type('text/csv').attachment(`consent-proof-${q.lead}.csv`).send(proofCsv(proof));
    } else {
      res.json(proof);
    }
  });

  router.get('/export', requirePermission('consent'), async (req, res) => {
    const q = validateQuery(req, exportQuery);
    // attachment() sets a type from the file name (none is known for .jsonl), so the type comes after it.
    res.attachment(`consent-export.${q.format}`).type(q.format === 'csv' ? 'text/csv' : 'application/x-ndjson');
    if (q.format === 'csv') res.write(csvLine(EXPORT_HEADER) + '\n');
    for await (const batch of engine.consent.export(q.from, q.to)) {
      res.write(batch.map((e) => (q.format === 'csv' ? exportCsvLine(e) : JSON.stringify(e))).join('\n') + '\n');
    }
    res.end();
  });

  return router;
}
