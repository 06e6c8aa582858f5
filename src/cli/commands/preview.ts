import { loadCampaignSet, requireCampaign } from '../../campaigns/load.ts';
import { AppError } from '../../errors.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';

export const previewCommand: Command = {
  name: ['preview'],
  summary: "render a campaign's message for one lead (consent is not checked; nothing is sent)",
  usage: 'preview <campaign-id> --lead <external-id> [--step <id>] [--html]',
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      lead: { type: 'string' },
      step: { type: 'string' },
      html: { type: 'boolean', default: false },
    });
    const [id] = positionals;
    if (!id || !values.lead) throw new AppError('invalid_input', 'preview needs a campaign id and --lead');
    const { campaignsDir, templatesDir } = ctx.config;
    const set = loadCampaignSet({ campaignsDir, templatesDir, maxFileBytes: ctx.config.campaignMaxFileBytes });
    const campaign = requireCampaign(set, id);
    const engine = await ctx.engine();
    const lead = await engine.leads.find(values.lead);
    if (!lead) throw new AppError('not_found', `no lead with external id '${values.lead}'`);
    const preview = engine.preview(set, campaign, values.step, { lead });
    const head = [`To: ${preview.to} (${preview.channel})`, `Persona: ${preview.persona}`, `Template: ${preview.template}`];
    if (preview.sms) {
      head.push(`Segments: ${preview.sms.segments} (${preview.sms.encoding})`);
      ctx.stdout.write([...head, '', preview.text].join('\n') + '\n');
    } else {
      ctx.stdout.write([...head, `Subject: ${preview.subject}`, '', values.html ? preview.html : preview.text].join('\n') + '\n');
    }
    return 0;
  },
};
