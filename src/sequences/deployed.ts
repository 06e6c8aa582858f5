import type pg from 'pg';
import type { CampaignSet, Problem } from '../campaigns/types.ts';
import { readYamlFile } from '../campaigns/positions.ts';

/**
 * Warnings for edits that would cut people off: a step that enrollments are waiting on and that
 * the file no longer has. Those enrollments would end with reason `step_removed`.
 */
export async function removedStepWarnings(pool: pg.Pool, set: CampaignSet): Promise<Problem[]> {
  const ids = [...set.campaigns.keys()];
  if (ids.length === 0) return [];
  const { rows } = await pool.query<{ campaign_id: string; current_step: string; n: number }>(
    `SELECT campaign_id, current_step, count(*)::int AS n FROM enrollments
      WHERE status = 'active' AND campaign_id = ANY($1::text[]) GROUP BY 1, 2 ORDER BY 1, 2`,
    [ids],
  );
  const warnings: Problem[] = [];
  for (const row of rows) {
    const campaign = set.campaigns.get(row.campaign_id)!;
    if (campaign.steps.some((s) => s.id === row.current_step)) continue;
    const { yaml } = readYamlFile(campaign.file);
    warnings.push(
      yaml.problem(
        ['steps'],
        `step '${row.current_step}' is gone from this file, but ${row.n} active enrollment(s) wait on it; they would end with reason step_removed`,
        'key',
        'warning',
      ),
    );
  }
  return warnings;
}
