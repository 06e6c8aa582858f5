import type { Request, Router } from 'express';
import { consentAsOf, type ConsentAnswer } from '../../consent/check.ts';
import { consentProof, proofCsv } from '../../consent/proof.ts';
import { verifyLedger } from '../../consent/verify.ts';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import type { Guard, PageRenderer } from './router.ts';

/**
 * The compliance officer's pages: find a person, see their consent timeline with its evidence and
 * every message with the event that allowed it, check "was this allowed at T?", verify the
 * ledger, and export (JSON, CSV, a printable page). Read-only: nothing here changes anything.
 */
export function auditRoutes(router: Router, engine: Engine, ui: { page: PageRenderer; guard: Guard }): void {
  const { pool } = engine.database;
  const { page, guard } = ui;

  router.get('/audit', guard('consent'), async (req, res) => {
    const q = typeof req.query.q === 'string' ? req.query.q.trim().slice(0, 200) : '';
    const leads = q
      ? (
          await pool.query(
            `SELECT l.external_id, l.email, l.phone, l.erased_at, (SELECT count(*) FROM consent_events e WHERE e.lead_id = l.id)::int AS events
               FROM leads l
              WHERE l.external_id = $1 OR lower(l.email) = lower($1) OR l.phone = $1 OR l.external_id ILIKE $2 OR l.email ILIKE $2
              ORDER BY l.external_id LIMIT 50`,
            [q, `${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`],
          )
        ).rows
      : [];
    page(res, 'audit-search', 'Consent audit', req, { nav: { audit: true }, q, leads });
  });

  router.get('/audit/verify', guard('consent'), async (req, res) => {
    page(res, 'audit-verify', 'Ledger verification', req, { nav: { audit: true }, report: await verifyLedger(pool), checkedAt: new Date() });
  });

  const externalId = (req: Request) => req.params.id as string;

  router.get('/audit/leads/:id', guard('consent'), async (req, res) => {
    const proof = await consentProof(pool, externalId(req), engine.clock.now());
    const channel = req.query.channel === 'sms' ? 'sms' : 'email';
    const purpose = typeof req.query.purpose === 'string' && /^[a-z][a-z0-9_-]*$/.test(req.query.purpose) ? req.query.purpose : 'marketing';
    const atText = typeof req.query.at === 'string' ? req.query.at.trim() : '';
    let answer: ConsentAnswer | undefined;
    if (req.query.channel) {
      const at = atText ? new Date(atText) : engine.clock.now();
      if (Number.isNaN(at.getTime())) throw new AppError('invalid_input', `'${atText}' is not an ISO instant like 2026-11-01T12:00:00Z`);
      const { rows } = await pool.query<{ id: string }>(`SELECT id FROM leads WHERE external_id = $1`, [externalId(req)]);
      answer = await consentAsOf(pool, Number(rows[0]!.id), channel, purpose, at);
    }
    page(res, 'audit-lead', `Consent record of ${proof.lead.external_id}`, req, {
      nav: { audit: true },
      proof,
      check: { channel, purpose, atText, answer },
    });
  });

  router.get('/audit/leads/:id/proof.json', guard('consent'), async (req, res) => {
    const proof = await consentProof(pool, externalId(req), engine.clock.now());
    res.attachment(`consent-proof-${proof.lead.external_id}.json`).json(proof);
  });

  router.get('/audit/leads/:id/proof.csv', guard('consent'), async (req, res) => {
    const proof = await consentProof(pool, externalId(req), engine.clock.now());
    res.type('text/csv').attachment(`consent-proof-${proof.lead.external_id}.csv`).send(proofCsv(proof));
  });
}
