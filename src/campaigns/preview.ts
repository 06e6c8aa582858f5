import fs from 'node:fs';
import path from 'node:path';
import type { Channel } from '../channels/channel.ts';
import { AppError } from '../errors.ts';
import { resolvePersona, type Persona } from '../leads/personas.ts';
import { LEAD_FIELDS, type Lead } from '../leads/types.ts';
import type { TemplateRenderer } from '../render/render.ts';
import { templateVariables } from '../render/variables.ts';
import { renderContext } from './compose.ts';
import { decide } from './decide.ts';
import type { CampaignSet } from './set.ts';
import type { Campaign, Step } from './types.ts';

/** Whom a preview is rendered for: a lead as recorded, or a persona (and locale) with sample data. */
export type PreviewSubject = { lead: Lead } | { persona: string; locale?: string | null };

/** What previewing needs: templates, and the public URL for the (inert) unsubscribe link. */
export interface PreviewContext {
  renderer: TemplateRenderer;
  templatesDir: string;
  publicUrl: string;
}

/** A step's message as its recipient would get it, rendered without consent and without recording anything. */
export interface PreviewedMessage {
  step: string;
  channel: Channel;
  template: string;
  persona: string;
  locale: string | null;
  /** The lead previewed for, and the address the step would use; null for a persona's sample. */
  lead: Lead | null;
  to: string | null;
  subject: string;
  text: string;
  html: string;
}

/** The sample person a persona preview is rendered for; ids below 1 are never a lead's. */
function sampleLead(persona: string, locale: string | null): Lead {
  return {
    id: 0,
    externalId: 'sample',
    email: 'sample@example.com',
    phone: '+14155552671',
    firstName: 'Alex',
    lastName: 'Sample',
    locale,
    timezone: null,
    persona,
    tags: [],
    attributes: {},
  };
}

/**
 * Sample values for what the template reads beyond the sample's fields (`lead.orders`,
 * `event.plan`): `[orders]`, so strict rendering passes and the reader sees where data goes.
 */
function samplePlaceholders(
  templatesDir: string,
  template: string,
  lead: Lead,
): { attributes: Record<string, unknown>; event: Record<string, unknown> } {
  const attributes: Record<string, unknown> = {};
  const event: Record<string, unknown> = {};
  const known = new Set([...Object.keys(LEAD_FIELDS), 'tags']);
  for (const v of templateVariables(fs.readFileSync(path.join(templatesDir, template), 'utf8'))) {
    const [root, key] = v.path;
    if (!key) continue;
    if (root === 'lead' && !known.has(key) && !(key in lead.attributes)) attributes[key] = `[${key}]`;
    if (root === 'event') event[key] = `[${key}]`;
  }
  return { attributes, event };
}

/** The campaign's step with this id; the first step when none is named. */
export function requireStep(campaign: Campaign, stepId: string | undefined): Step {
  const step = stepId === undefined ? campaign.steps[0] : campaign.steps.find((s) => s.id === stepId);
  if (!step) {
    throw new AppError('not_found', `campaign ${campaign.id} has no step '${stepId}'`, {
      details: [`its steps: ${campaign.steps.map((s) => s.id).join(', ')}`],
    });
  }
  return step;
}

/**
 * Renders one step for a lead or a persona with the code a run uses (decide, renderContext, the
 * renderer), so that a preview and a test send show what a run would send. Consent is not the
 * question here: every channel counts as allowed. The unsubscribe link is a placeholder that
 * withdraws nothing, so that a click in a preview or a test cannot change the lead's consent.
 */
export function previewStep(
  ctx: PreviewContext,
  set: CampaignSet,
  campaign: Campaign,
  step: Step,
  subject: PreviewSubject,
): PreviewedMessage {
  let lead: Lead;
  let persona: Persona;
  let event: Record<string, unknown> | undefined;
  if ('lead' in subject) {
    lead = subject.lead;
    persona = resolvePersona(lead, set.personas);
  } else {
    const found = set.personas.find((p) => p.id === subject.persona);
    if (!found) {
      throw new AppError('not_found', `no persona '${subject.persona}'`, {
        details: [`personas: ${set.personas.map((p) => p.id).join(', ') || '(none)'}`],
      });
    }
    persona = found;
    lead = sampleLead(found.id, subject.locale ?? null);
  }
  const allowed = { allowed: true as const, eventId: 0 };
  const decision = decide({ lead, persona }, step, { email: allowed, sms: allowed }, ctx.templatesDir);
  if (decision.kind === 'suppress') {
    throw new AppError(
      'not_found',
      `nothing to preview for this ${'lead' in subject ? 'lead' : 'persona'}: ${decision.reason} on ${decision.channel}`,
    );
  }
  if (!('lead' in subject) || campaign.kind === 'event') {
    const sample = samplePlaceholders(ctx.templatesDir, decision.template, lead);
    if (!('lead' in subject)) lead = { ...lead, attributes: sample.attributes };
    // No trigger event is at hand: its properties are sampled, for a lead too.
    if (campaign.kind === 'event') event = sample.event;
  }
  const context = renderContext(campaign, step, { lead, persona }, `${ctx.publicUrl}/unsubscribe/<token>`, event);
  const base = {
    step: step.id,
    channel: decision.channel,
    template: decision.template,
    persona: persona.id,
    locale: lead.locale,
    lead: 'lead' in subject ? subject.lead : null,
    to: 'lead' in subject ? decision.to : null,
  };
  if (decision.channel === 'sms') return { ...base, subject: '', text: ctx.renderer.renderSms(decision.template, context), html: '' };
  const email = ctx.renderer.renderEmail(decision.template, context);
  return { ...base, subject: email.subject, text: email.text, html: email.html };
}
