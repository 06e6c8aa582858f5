import type { CampaignSet } from '../campaigns/set.ts';
import { statement, type Queryable } from '../db/statement.ts';
import { DEFAULT_MAX_FILE_BYTES, readYamlFile } from '../yaml/positions.ts';
import type { Problem } from '../yaml/problems.ts';

const WAITING_BY_STEP = statement(
  'sequences.active-by-step',
  `SELECT campaign_id, current_step, count(*)::int AS n FROM enrollments
    WHERE status = 'active' AND campaign_id = ANY($1::text[]) GROUP BY 1, 2 ORDER BY 1, 2`,
);

/**
 * Warnings for edits that would cut people off: a step that enrollments are waiting on and that
 * the file no longer has. Those enrollments would end with reason `step_removed`.
 */
export async function removedStepWarnings(db: Queryable, set: CampaignSet, maxFileBytes = DEFAULT_MAX_FILE_BYTES): Promise<Problem[]> {
  const ids = [...set.campaigns.keys()];
  if (ids.length === 0) return [];
  const { rows } = await db.query<{ campaign_id: string; current_step: string; n: number }>(WAITING_BY_STEP, [ids]);
  const warnings: Problem[] = [];
  for (const row of rows) {
    const campaign = set.campaigns.get(row.campaign_id)!;
    if (campaign.steps.some((s) => s.id === row.current_step)) continue;
    const { yaml } = readYamlFile(campaign.file, maxFileBytes);
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
