import crypto from 'node:crypto';
import { Router } from 'express';
import Joi from 'joi';
import { consentAsOf } from '../../consent/check.ts';
import { requestConfirmation } from '../../consent/double-opt-in.ts';
import { appendConsentEvents } from '../../consent/ledger.ts';
import { consentProof, EXPORT_HEADER, exportConsentEvents, exportCsvLine, proofCsv } from '../../consent/proof.ts';
import { csvLine } from '../../csv.ts';
import { withTransaction } from '../../db/tx.ts';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import { findLeadByExternalId } from '../../leads/store.ts';
import { requirePermission } from '../auth.ts';
import { validateBody, validateQuery } from '../validate.ts';

const channel = Joi.string().valid('email', 'sms');
const purpose = Joi.string().pattern(/^[a-z][a-z0-9_-]*$/);

/**
 * Consent over the API: record grants and withdrawals with their evidence (a grant of email
 * marketing starts double opt-in), and, for compliance, answer as-of checks, proofs and exports.
 */
export function consentsRouter(engine: Engine): Router {
  const router = Router();
  const { pool, db } = engine.database;

  const leadOf = async (externalId: string) => {
    const lead = await findLeadByExternalId(db, externalId);
    if (!lead) throw new AppError('not_found', `no lead '${externalId}'`);
    return lead;
  };

  const recordSchema = Joi.object({
    lead: Joi.string().required(),
    channel: channel.required(),
    purpose: purpose.required(),
    action: Joi.string().valid('grant', 'withdraw').required(),
    source: Joi.string().max(100).default('api'),
    occurred_at: Joi.date().iso(),
    evidence: Joi.object({ ip: Joi.string().ip(), user_agent: Joi.string().max(1000), form: Joi.string().max(200) }).unknown(true).default({}),
    notice: Joi.object({ version: Joi.string().max(100).required(), text: Joi.string().max(100_000).required() }),
  });

  router.post('/', requirePermission('write'), async (req, res) => {
    const body = validateBody(req, recordSchema);
    const lead = await leadOf(body.lead);
    const now = engine.clock.now();
    const occurredAt: Date = body.occurred_at ?? now;
    if (occurredAt.getTime() > now.getTime() + 60_000) throw new AppError('invalid_input', 'occurred_at lies in the future');
    const [eventId] = await withTransaction(pool, (client) =>
      appendConsentEvents(client, [
        {
          leadId: lead.id,
          channel: body.channel,
          purpose: body.purpose,
          action: body.action,
          source: body.source,
          evidence: body.evidence,
          actor: `key:${req.apiKey!.name}`,
          occurredAt,
          noticeVersion: body.notice?.version,
          noticeHash: body.notice ? crypto.createHash('sha256').update(body.notice.text).digest('hex') : undefined,
        },
      ]),
    );
    const needsConfirmation = body.action === 'grant' && body.channel === 'email' && body.purpose === 'marketing';
    const confirmation = needsConfirmation
      ? await requestConfirmation({ pool, renderer: engine.renderer, templatesDir: engine.config.templatesDir, publicUrl: engine.config.publicUrl, secret: engine.secret, now }, lead, { id: eventId!, purpose: body.purpose })
      : undefined;
    res.status(201).json({ event: eventId, ...(confirmation ? { confirmation: { message: confirmation.messageId, expires_at: confirmation.expiresAt } } : {}) });
  });

  const checkQuery = Joi.object({ lead: Joi.string().required(), channel: channel.required(), purpose: purpose.required(), at: Joi.date().iso() });

  router.get('/check', requirePermission('consent'), async (req, res) => {
    const q = validateQuery(req, checkQuery);
    const lead = await leadOf(q.lead);
    const at: Date = q.at ?? engine.clock.now();
    res.json({ lead: q.lead, channel: q.channel, purpose: q.purpose, at, ...(await consentAsOf(pool, lead.id, q.channel, q.purpose, at)) });
  });

  router.get('/proof', requirePermission('consent'), async (req, res) => {
    const q = validateQuery(req, Joi.object({ lead: Joi.string().required(), format: Joi.string().valid('json', 'csv').default('json') }));
    const proof = await consentProof(pool, q.lead, engine.clock.now());
    if (q.format === 'csv') {
      res.type('text/csv').attachment(`consent-proof-${q.lead}.csv`).send(proofCsv(proof));
    } else {
      res.json(proof);
    }
  });

  router.get('/export', requirePermission('consent'), async (req, res) => {
    const q = validateQuery(req, Joi.object({ from: Joi.date().iso().required(), to: Joi.date().iso().greater(Joi.ref('from')).required(), format: Joi.string().valid('csv', 'jsonl').default('csv') }));
    res.type(q.format === 'csv' ? 'text/csv' : 'application/x-ndjson').attachment(`consent-export.${q.format}`);
    if (q.format === 'csv') res.write(csvLine(EXPORT_HEADER) + '\n');
    for await (const batch of exportConsentEvents(pool, q.from, q.to)) {
      res.write(batch.map((e) => (q.format === 'csv' ? exportCsvLine(e) : JSON.stringify(e))).join('\n') + '\n');
    }
    res.end();
  });

  return router;
}
