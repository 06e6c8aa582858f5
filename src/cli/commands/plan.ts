import { requireCampaign } from '../../campaigns/load.ts';
import { countReasons, type Plan } from '../../campaigns/plan.ts';
import { AppError } from '../../errors.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { formatTable } from '../table.ts';

export const planCommand: Command = {
  name: ['plan'],
  summary: 'show who would get which step, and who is suppressed and why; sends nothing',
  usage: 'plan <campaign-id> [--json]',
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, { json: { type: 'boolean', default: false } });
    const [id] = positionals;
    if (!id || positionals.length > 1) throw new AppError('invalid_input', 'plan takes exactly one campaign id');
    const engine = await ctx.engine();
    const set = engine.loadCampaigns();
    const campaign = requireCampaign(set, id);
    const plan = await engine.plan(campaign, set);
    ctx.stdout.write(values.json ? JSON.stringify(plan, null, 2) + '\n' : renderPlan(plan));
    return 0;
  },
};

export function renderPlan(plan: Plan): string {
  const out: string[] = [`Plan for ${plan.campaign}`, ''];
  if (plan.recipients.length > 0) {
    out.push(
      formatTable(
        ['lead', 'step', 'channel', 'persona', 'template', 'local send time', 'segments'],
        plan.recipients.map((r) => [
          r.lead,
          r.step,
          r.channel,
          r.persona,
          r.template,
          r.send_at,
          r.segments === undefined ? '' : `${r.segments} ${r.encoding}`,
        ]),
      ),
      '',
    );
  }
  if (plan.suppressed.length > 0) {
    out.push(
      'Suppressed:',
      formatTable(
        ['lead', 'step', 'reason', 'detail'],
        plan.suppressed.map((s) => [s.lead, s.step, s.reason, s.detail ?? '']),
      ),
      '',
    );
  }
  out.push(`${plan.recipients.length} recipient(s), ${plan.suppressed.length} suppressed`);
  if (plan.sms.messages > 0) out.push(`SMS cost: ${plan.sms.messages} message(s), ${plan.sms.segments} segment(s)`);
  for (const [reason, n] of countReasons(plan)) out.push(`  ${reason.padEnd(12)} ${n}`);
  return out.join('\n') + '\n';
}
