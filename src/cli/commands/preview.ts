import { loadCampaignSet, requireCampaign } from '../../campaigns/load.ts';
import { CAMPAIGN_CHANNEL } from '../../campaigns/decide.ts';
import { AppError } from '../../errors.ts';
import { findLeadByExternalId } from '../../leads/store.ts';
import { resolvePersona } from '../../leads/personas.ts';
import { findTemplate } from '../../render/templates.ts';
import { renderContext } from '../../sequences/steps.ts';
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
    const set = loadCampaignSet({ campaignsDir, templatesDir });
    const campaign = requireCampaign(set, id);
    const database = await ctx.database();
    const lead = await findLeadByExternalId(database.db, values.lead);
    if (!lead) throw new AppError('not_found', `no lead with external id '${values.lead}'`);
    const persona = resolvePersona(lead, set.personas);
    const step = campaign.steps[0]!;
    const template = findTemplate(templatesDir, step.template, persona.id, lead.locale, CAMPAIGN_CHANNEL);
    if (!template) throw new AppError('not_found', `template '${step.template}' has no variant for persona '${persona.id}'`);
    const email = new TemplateRenderer(templatesDir).renderEmail(
      template,
      renderContext(campaign, step, { lead, persona }, `${ctx.config.publicUrl}/unsubscribe/<token>`),
    );
    ctx.stdout.write(
      [`To: ${lead.email ?? '(no email address)'}`, `Persona: ${persona.id}`, `Template: ${template}`, `Subject: ${email.subject}`, '', values.html ? email.html : email.text].join('\n') + '\n',
    );
    return 0;
  },
};
