import { loadCampaignSet, requireCampaign } from '../../campaigns/load.ts';
import { previewStep, requireStep, type PreviewedMessage } from '../../campaigns/preview.ts';
import { AppError } from '../../errors.ts';
import { TemplateRenderer } from '../../render/render.ts';
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
    const lead = await (await ctx.engine()).leads.find(values.lead);
    if (!lead) throw new AppError('not_found', `no lead with external id '${values.lead}'`);
    const message = previewStep(
      { renderer: new TemplateRenderer(templatesDir), templatesDir, publicUrl: ctx.config.publicUrl },
      set,
      campaign,
      requireStep(campaign, values.step),
      { lead },
    );
    ctx.stdout.write(formatPreview(message, values.html));
    return 0;
  },
};

/** A previewed message as `preview` prints it: who and which template, then the text (or HTML). */
function formatPreview(message: PreviewedMessage, html: boolean): string {
  const head = [
    ...(message.to ? [`To: ${message.to} (${message.channel})`] : []),
    `Persona: ${message.persona}`,
    `Template: ${message.template}`,
  ];
  if (message.channel === 'sms') return [...head, '', message.text].join('\n') + '\n';
  return [...head, `Subject: ${message.subject}`, '', html ? message.html : message.text].join('\n') + '\n';
}
