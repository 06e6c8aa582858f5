import type { Request, Router } from 'express';
import type { ConsentAnswer } from '../../consent/check.ts';
import { proofCsv } from '../../consent/proof.ts';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import type { Ui } from './kit.ts';
import { searchPage } from './search.ts';
import { overviewCharts } from './charts.ts';

/** The weeks of withdrawals the overview shows. */
const OVERVIEW_WEEKS = 26;

/**
 * The compliance officer's pages: find a person, see their consent timeline with its evidence and
 * every message with the event that allowed it, check "was this allowed at T?", verify the
 * ledger, export (JSON, CSV, a printable page), and answer an access request with everything held
 * about the person. Read-only, except that an access request is recorded (who asked, when).
 */
export function auditRoutes(router: Router, engine: Engine, { page, guard }: Ui): void {
  router.get('/audit', guard('consent'), async (req, res) => {
    page(res, 'audit-search', 'Consent audit', req, { nav: { audit: true }, ...(await searchPage(engine, req, '/audit')) });
  });

  router.get('/audit/overview', guard('consent'), async (req, res) => {
    const overview = await engine.consent.overview(OVERVIEW_WEEKS);
    page(res, 'audit-overview', 'Consent overview', req, {
      nav: { audit: true },
      overview,
      weeks: OVERVIEW_WEEKS,
      charts: await overviewCharts(overview),
    });
  });

  router.get('/audit/verify', guard('consent'), async (req, res) => {
    page(res, 'audit-verify', 'Ledger verification', req, {
      nav: { audit: true },
      report: await engine.consent.verify(),
      checkedAt: engine.clock.now(),
    });
  });

  const externalId = (req: Request) => req.params.id as string;

  router.get('/audit/leads/:id', guard('consent'), async (req, res) => {
    const proof = await engine.consent.proof(externalId(req));
    const channel = req.query.channel === 'sms' ? 'sms' : 'email';
    const purpose = typeof req.query.purpose === 'string' && /^[a-z][a-z0-9_-]*$/.test(req.query.purpose) ? req.query.purpose : 'marketing';
    const atText = typeof req.query.at === 'string' ? req.query.at.trim() : '';
    let answer: ConsentAnswer | undefined;
    const lead = await engine.leads.find(proof.lead.external_id);
    if (req.query.channel) {
      const at = atText ? new Date(atText) : engine.clock.now();
      if (Number.isNaN(at.getTime())) throw new AppError('invalid_input', `'${atText}' is not an ISO instant like 2026-11-01T12:00:00Z`);
      answer = await engine.consent.asOf(lead!.id, channel, purpose, at);
    }
    page(res, 'audit-lead', `Consent record of ${proof.lead.external_id}`, req, {
      nav: { audit: true },
      proof,
      check: { channel, purpose, atText, answer },
      accessRequests: await engine.leads.accessRequests(proof.lead.external_id),
      current: lead ? await engine.consent.current(lead.id) : [],
      emailState: lead?.email ? await engine.deliverability.emailState(lead.id, lead.email) : undefined,
    });
  });

  router.get('/audit/leads/:id/proof.json', guard('consent'), async (req, res) => {
    const proof = await engine.consent.proof(externalId(req));
    res.attachment(`consent-proof-${proof.lead.external_id}.json`).json(proof);
  });

  // An access request (GDPR Art. 15) answered from the audit: recorded with the signed-in user. A form
  // POST (with the session's CSRF token), so neither a prefetch nor another site records a request.
  router.post('/audit/leads/:id/export.json', guard('consent'), async (req, res) => {
    const bundle = await engine.leads.accessRequest({
      externalId: externalId(req),
      requestedBy: `user:${req.session!.user.email}`,
      format: 'json',
    });
    res.attachment(`access-request-${bundle.lead.external_id as string}.json`).json(bundle);
  });

  router.get('/audit/leads/:id/proof.csv', guard('consent'), async (req, res) => {
    const proof = await engine.consent.proof(externalId(req));
    res.type('text/csv').attachment(`consent-proof-${proof.lead.external_id}.csv`).send(proofCsv(proof));
  });
}
