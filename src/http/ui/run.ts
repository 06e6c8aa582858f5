import Joi from 'joi';
import type { Router } from 'express';
import { requireCampaign } from '../../campaigns/load.ts';
import { runPreview } from '../../campaigns/run-preview.ts';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import { defaultOccurrence } from '../../scheduler/schedule.ts';
import { requiredField, type Ui } from './kit.ts';

const occurrence = Joi.string().trim().min(1).max(200);

/**
 * Run…: what the plan says (counts by step, channel and outcome, and the occurrence), then a
 * confirm button. The form carries the occurrence it showed, so the run is the one confirmed even
 * if a schedule's next firing passes in between.
 */
export function runRoutes(router: Router, engine: Engine, { page, guard }: Ui): void {
  router.get('/campaigns/:id/run', guard('write'), async (req, res) => {
    const set = engine.loadCampaigns();
    const campaign = requireCampaign(set, req.params.id as string);
    const planned = defaultOccurrence(campaign, engine.clock.now());
    const preview = await runPreview(campaign.id, planned, engine.planBatches(campaign, set, { occurrence: planned }));
    page(res, 'run', `Run ${campaign.name}`, req, {
      nav: { campaigns: true },
      campaign: { id: campaign.id, name: campaign.name },
      preview,
    });
  });

  router.post('/campaigns/:id/run', guard('write'), async (req, res) => {
    const { value: confirmed, error } = occurrence.validate(requiredField(req, 'occurrence', 200));
    if (error) throw new AppError('invalid_input', `occurrence: ${error.message}`);
    const set = engine.loadCampaigns();
    const campaign = requireCampaign(set, req.params.id as string);
    await engine.run(campaign, set, { occurrence: confirmed as string, trigger: 'manual' });
    res.redirect(303, `/campaigns/${encodeURIComponent(campaign.id)}?done=run-started`);
  });
}
