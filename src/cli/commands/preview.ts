import { renderContext } from '../../campaigns/compose.ts';
import { decide } from '../../campaigns/decide.ts';
import { loadCampaignSet, requireCampaign } from '../../campaigns/load.ts';
import { AppError } from '../../errors.ts';
import { resolvePersona } from '../../leads/personas.ts';
import { TemplateRenderer } from '../../render/render.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';

export const previewCommand: Command = {
  name: ['preview'],
  summary: "render a campaign's message for one lead (consent is not checked; nothing is sent)",
  usage: 'preview <campaign-id> --lead <external-id> [--html]',
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, { lead: { type: 'string' }, html: { type: 'boolean', default: false } });
    const [id] = positionals;
    if (!id || !values.lead) throw new AppError('invalid_input', 'preview needs a campaign id and --lead');
    const { campaignsDir, templatesDir } = ctx.config;
    const set = loadCampaignSet({ campaignsDir, templatesDir, maxFileBytes: ctx.config.campaignMaxFileBytes });
    const campaign = requireCampaign(set, id);
    const lead = await (await ctx.engine()).leads.find(values.lead);
    if (!lead) throw new AppError('not_found', `no lead with external id '${values.lead}'`);
    const persona = resolvePersona(lead, set.personas);
    const step = campaign.steps[0]!;
    // Consent is not the question here: every channel counts as allowed.
    const allowed = { allowed: true as const, eventId: 0 };
    const decision = decide({ lead, persona }, step, { email: allowed, sms: allowed }, templatesDir);
    if (decision.kind === 'suppress')
      throw new AppError('not_found', `nothing to preview for this lead: ${decision.reason} on ${decision.channel}`);
    const renderer = new TemplateRenderer(templatesDir);
    const context = renderContext(campaign, step, { lead, persona }, `${ctx.config.publicUrl}/unsubscribe/<token>`);
    const head = [`To: ${decision.to} (${decision.channel})`, `Persona: ${persona.id}`, `Template: ${decision.template}`];
    if (decision.channel === 'sms') {
      ctx.stdout.write([...head, '', renderer.renderSms(decision.template, context)].join('\n') + '\n');
    } else {
      const email = renderer.renderEmail(decision.template, context);
      ctx.stdout.write([...head, `Subject: ${email.subject}`, '', values.html ? email.html : email.text].join('\n') + '\n');
    }
    return 0;
  },
};
