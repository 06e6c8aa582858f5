import path from 'node:path';
import { loadCampaignSet } from '../../campaigns/load.ts';
import { formatProblem } from '../../campaigns/types.ts';
import type { Command } from '../command.ts';
import { parseCommandArgs } from '../args.ts';

export const validateCommand: Command = {
  name: ['validate'],
  summary: 'check campaign files; prints every problem as path:line:col message (exit 1 on errors)',
  usage: 'validate [paths…]',
  async run(args, ctx) {
    const { positionals } = parseCommandArgs(args, {});
    const { campaignsDir, templatesDir } = ctx.config;
    const set = loadCampaignSet({ campaignsDir, templatesDir, files: positionals.length > 0 ? positionals : undefined });
    for (const problem of set.problems) ctx.stdout.write(formatProblem(problem) + '\n');
    const errors = set.problems.filter((p) => p.severity === 'error');
    if (errors.length > 0) {
      const files = new Set(errors.map((p) => p.file)).size;
      ctx.stderr.write(`${errors.length} problem(s) in ${files} file(s)\n`);
      return 1;
    }
    const where = positionals.length > 0 ? positionals.join(', ') : path.relative(process.cwd(), campaignsDir) || '.';
    ctx.stderr.write(`${where}: valid (${set.campaigns.size} campaign(s), ${set.personas.length} persona(s))\n`);
    return 0;
  },
};
