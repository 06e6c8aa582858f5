import fs from 'node:fs';
import path from 'node:path';
import { loadCampaignSet } from '../../campaigns/load.ts';
import { templateVariableWarnings } from '../../campaigns/variables.ts';
import type { CampaignSet } from '../../campaigns/set.ts';
import { formatProblem, type Problem } from '../../yaml/problems.ts';
import type { CliContext, Command } from '../command.ts';
import { parseCommandArgs } from '../args.ts';

/** A database to compare with exists when one is configured or the embedded one was created. */
function hasDatabase(ctx: CliContext): boolean {
  return Boolean(ctx.config.databaseUrl) || fs.existsSync(path.join(ctx.config.dataDir, 'postgres', 'PG_VERSION'));
}

async function deployedWarnings(ctx: CliContext, set: CampaignSet): Promise<Problem[]> {
  const { campaigns } = await ctx.engine();
  const triggers = [...set.campaigns.values()].flatMap((c) => (c.trigger ? [c.trigger.event] : []));
  return [
    ...(await campaigns.removedStepWarnings(set, ctx.config.campaignMaxFileBytes)),
    ...templateVariableWarnings(set, ctx.config.templatesDir, await campaigns.dataKeys(triggers), ctx.config.campaignMaxFileBytes),
  ];
}

export const validateCommand: Command = {
  name: ['validate'],
  summary: 'check campaign files; prints every problem as path:line:col message (exit 1 on errors)',
  usage: 'validate [files or folders…] [--offline]',
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, { offline: { type: 'boolean', default: false } });
    const { campaignsDir, templatesDir, campaignMaxFileBytes: maxFileBytes } = ctx.config;
    const set = loadCampaignSet({ campaignsDir, templatesDir, maxFileBytes, files: positionals.length > 0 ? positionals : undefined });
    // Against the deployed state: edits that would strand people enrolled in a removed step.
    const warnings =
      !values.offline && hasDatabase(ctx)
        ? await deployedWarnings(ctx, set)
        : templateVariableWarnings(set, templatesDir, undefined, maxFileBytes);
    const problems = [...set.problems, ...warnings];
    for (const problem of problems) ctx.stdout.write(formatProblem(problem) + '\n');
    const errors = problems.filter((p) => p.severity === 'error');
    if (errors.length > 0) {
      const files = new Set(errors.map((p) => p.file)).size;
      ctx.stderr.write(
        `${errors.length} problem(s) in ${files} file(s); a running engine keeps using the last good version of each until it is fixed\n`,
      );
      return 1;
    }
    const where = positionals.length > 0 ? positionals.join(', ') : path.relative(process.cwd(), campaignsDir) || '.';
    const warned = problems.length > 0 ? `, ${problems.length} warning(s)` : '';
    ctx.stderr.write(`${where}: valid (${set.campaigns.size} campaign(s), ${set.personas.length} persona(s)${warned})\n`);
    return 0;
  },
};
