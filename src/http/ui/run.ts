import type { Router } from 'express';
import { requireCampaign } from '../../campaigns/load.ts';
import type { Engine } from '../../engine.ts';
import { requiredField, type Ui } from './kit.ts';

/**
 * Run…: what the plan says (counts by step, channel and outcome, and the occurrence), then a
 * confirm button. The form carries the occurrence it showed, so the run is the one confirmed even
 * if a schedule's next firing passes in between. Retry failed: records again what failed, after a fix.
 */
export function runRoutes(router: Router, engine: Engine, { page, guard }: Ui): void {
  router.get('/campaigns/:id/run', guard('write'), async (req, res) => {
    const set = engine.loadCampaigns();
    const campaign = requireCampaign(set, req.params.id as string);
    const preview = await engine.previewRun(campaign, set);
    page(res, 'run', `Run ${campaign.name}`, req, {
      nav: { campaigns: true },
      campaign: { id: campaign.id, name: campaign.name },
      preview,
    });
  });

  router.post('/campaigns/:id/run', guard('write'), async (req, res) => {
    const occurrence = requiredField(req, 'occurrence', 200);
    const set = engine.loadCampaigns();
    const campaign = requireCampaign(set, req.params.id as string);
    await engine.run(campaign, set, { occurrence, trigger: 'manual' });
    res.redirect(303, `/campaigns/${encodeURIComponent(campaign.id)}?done=run-started`);
  });

  // After a fix: what `touchpoint retry <campaign>` does (sequences/retry.ts), for the whole campaign.
  router.post('/campaigns/:id/retry', guard('write'), async (req, res) => {
    const set = engine.loadCampaigns();
    const campaign = requireCampaign(set, req.params.id as string);
    await engine.retry(campaign, set, {});
    res.redirect(303, `/campaigns/${encodeURIComponent(campaign.id)}?done=retried`);
  });
}
