import { Router } from 'express';
import { requireCampaign } from '../../campaigns/load.ts';
import type { Engine } from '../../engine.ts';
import { requirePermission } from '../auth.ts';
import { jsonBody } from '../body.ts';
import { validateBody, validateQuery } from '../validate.ts';
import { reportQuery, runBody } from './schemas.ts';

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

  router.get('/:id/plan', requirePermission('read'), async (req, res) => {
    const set = engine.loadCampaigns();
    const campaign = requireCampaign(set, req.params.id as string);
    res.json(await engine.plan(campaign, set));
  });

  router.post('/:id/runs', requirePermission('write'), jsonBody('small'), async (req, res) => {
    const body = validateBody(req, runBody);
    const set = engine.loadCampaigns();
    const campaign = requireCampaign(set, req.params.id as string);
    const { runId, counts } = await engine.run(campaign, set, { occurrence: body.occurrence, trigger: 'api' });
    res.status(201).json({ run: runId, campaign: campaign.id, occurrence: body.occurrence, counts });
  });

  router.get('/:id/report', requirePermission('read'), async (req, res) => {
    const query = validateQuery(req, reportQuery);
    const { possibleDuplicates, replies, ...counts } = await engine.campaigns.report(req.params.id as string, query.occurrence);
    res.json({
      ...counts,
      possible_duplicates: possibleDuplicates,
      replies: { human: replies.human, by_category: replies.byCategory, automatic: replies.automatic },
    });
  });

  return router;
}
