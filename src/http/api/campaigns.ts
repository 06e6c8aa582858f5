import { Router } from 'express';
import { requireCampaign } from '../../campaigns/load.ts';
import { streamSink, writePlanJson } from '../../campaigns/plan-output.ts';
import { reportRequest } from '../../campaigns/report.ts';
import type { Engine } from '../../engine.ts';
import { requirePermission } from '../auth.ts';
import { jsonBody } from '../body.ts';
import { validateBody, validateQuery } from '../validate.ts';
import { reportQuery, retryBody, runBody, sendTestBody } from './schemas.ts';

export function campaignsRouter(engine: Engine): Router {
  const router = Router();
  const { config } = engine;

  router.get('/', requirePermission('read'), (_req, res) => {
    const set = engine.loadCampaigns();
    res.json({
      campaigns: [...set.campaigns.values()].map(({ file: _file, ...campaign }) => campaign),
      problems: set.problems.map(({ file, ...p }) => ({ file: file.replace(config.campaignsDir + '/', ''), ...p })),
    });
  });

  // Streamed as it is planned, so that a campaign of a million leads answers in bounded memory;
  // an error after the first bytes can only cut the answer, which a client sees as invalid JSON.
  router.get('/:id/plan', requirePermission('read'), async (req, res) => {
    const set = engine.loadCampaigns();
    const campaign = requireCampaign(set, req.params.id as string);
    res.type('application/json');
    try {
      await writePlanJson(campaign.id, engine.planBatches(campaign, set), streamSink(res));
    } catch (err) {
      if (!res.headersSent) throw err;
      res.destroy(err as Error);
      return;
    }
    res.end();
  });

  router.post('/:id/runs', requirePermission('write'), jsonBody('small'), async (req, res) => {
    const body = validateBody(req, runBody);
    const set = engine.loadCampaigns();
    const campaign = requireCampaign(set, req.params.id as string);
    const { runId, occurrence, counts } = await engine.run(campaign, set, { occurrence: body.occurrence, trigger: 'api' });
    res.status(201).json({ run: runId, campaign: campaign.id, occurrence, counts });
  });

  // After a fix: records again (or skips) the failed steps that hold people (sequences/retry.ts).
  router.post('/:id/retry', requirePermission('write'), jsonBody('small'), async (req, res) => {
    const body = validateBody(req, retryBody);
    const set = engine.loadCampaigns();
    const campaign = requireCampaign(set, req.params.id as string);
    res.json({ campaign: campaign.id, ...(await engine.retry(campaign, set, body)) });
  });

  // One message of a step marked [TEST], to a user's own or a seed-list address; outside consent and counts (campaigns/test-send.ts).
  router.post('/:id/send-test', requirePermission('write'), jsonBody('small'), async (req, res) => {
    const body = validateBody(req, sendTestBody);
    const key = req.apiKey!;
    const sent = await engine.sendTest({
      campaign: req.params.id as string,
      step: body.step,
      subject: body.lead ? { lead: body.lead } : { persona: body.persona, locale: body.locale },
      to: body.to,
      requestedBy: key.user ? `user:${key.user.email}` : `key:${key.name}`,
    });
    res.status(201).json(sent);
  });

  // The same JSON as `touchpoint report --json`: over all occurrences, or the one asked for (404 if it has no messages).
  router.get('/:id/report', requirePermission('read'), async (req, res) => {
    const query = validateQuery(req, reportQuery);
    res.json(await engine.campaigns.report(reportRequest(engine.loadCampaigns(), req.params.id as string, query.occurrence ?? null)));
  });

  return router;
}
