import { requireCampaign } from '../../campaigns/load.ts';
import { AppError } from '../../errors.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';

export const retryCommand: Command = {
  name: ['retry'],
  summary:
    'after a fix, record again the failed steps that hold people in a campaign and send again what the provider refused (each step still reaches a person once); --skip moves them on instead',
  usage: 'retry <campaign-id> [--step <id>] [--reason render_error|rejected|attempts_exhausted] [--skip]',
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      step: { type: 'string' },
      reason: { type: 'string' },
      skip: { type: 'boolean', default: false },
    });
    const [id] = positionals;
    if (!id || positionals.length > 1) throw new AppError('invalid_input', 'retry takes exactly one campaign id');
    const engine = await ctx.engine();
    const set = engine.loadCampaigns();
    const campaign = requireCampaign(set, id);
    const counts = await engine.retry(campaign, set, { step: values.step, reason: values.reason, skip: values.skip });
    if (values.skip) {
      ctx.stderr.write(`${campaign.id}: ${counts.skipped} person(s) moved past their failed step\n`);
      return 0;
    }
    ctx.stderr.write(
      `${campaign.id}: ${counts.retried} failed step(s) recorded again: ${counts.queued} queued, ${counts.suppressed} suppressed, ` +
        `${counts.failed} failed again (still held; see GET /api/v1/messages?campaign=${campaign.id}&status=failed)\n` +
        `${campaign.id}: ${counts.resent} message(s) the provider refused or that ran out of attempts queued to be sent again\n`,
    );
    if (counts.queued + counts.resent > 0 && !(await engine.messages.dispatcherAlive())) {
      ctx.stderr.write('no worker is running: the queued messages go out when `serve` or `worker` runs\n');
    }
    return counts.failed > 0 ? 1 : 0;
  },
};
