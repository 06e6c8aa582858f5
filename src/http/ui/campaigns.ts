import path from 'node:path';
import type { Router } from 'express';
import type { Engine } from '../../engine.ts';
import type { Ui } from './kit.ts';

/**
 * The marketer's campaign list: every campaign file under the campaigns directory, whether it
 * loads, and each problem at its file, line and column (as `validate` prints them), so a broken
 * file is seen where it is written rather than discovered when a run refuses it.
 */
export function campaignRoutes(router: Router, engine: Engine, { page, guard }: Ui): void {
  router.get('/campaigns', guard('write'), (req, res) => {
    const set = engine.loadCampaigns();
    const relative = (file: string) => path.relative(engine.config.campaignsDir, file) || path.basename(file);
    const problems = set.problems.map((p) => ({ ...p, file: relative(p.file) }));
    const campaigns = [...set.campaigns.values()]
      .map((c) => {
        const file = relative(c.file);
        const own = problems.filter((p) => p.file === file);
        return {
          id: c.id,
          name: c.name,
          kind: c.kind,
          purpose: c.purpose,
          steps: c.steps.length,
          schedule: c.schedule?.cron
            ? `cron ${c.schedule.cron}`
            : c.schedule?.at
              ? `at ${c.schedule.at}`
              : c.kind === 'event'
                ? `on ${c.trigger?.event ?? 'event'}`
                : 'by hand',
          file,
          warnings: own.filter((p) => p.severity === 'warning').length,
        };
      })
      .sort((a, b) => a.id.localeCompare(b.id));
    const errors = problems.filter((p) => p.severity === 'error');
    page(res, 'campaigns', 'Campaigns', req, { nav: { campaigns: true }, campaigns, problems, errors: errors.length });
  });
}
