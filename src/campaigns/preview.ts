import fs from 'node:fs';
import path from 'node:path';
import { countSegments, type SegmentCount } from '../channels/segments.ts';
import { AppError } from '../errors.ts';
import type { Member } from '../leads/audience.ts';
import { resolvePersona } from '../leads/personas.ts';
import { leadName, type Lead } from '../leads/types.ts';
import type { TemplateRenderer } from '../render/render.ts';
import { templateVariables } from '../render/variables.ts';
import { renderContext } from './compose.ts';
import { decide } from './decide.ts';
import type { CampaignSet } from './set.ts';
import type { Campaign, Step } from './types.ts';

/**
 * A step's message as one person would get it, without consent checks and without sending: for a
 * stored lead, or for a persona (and locale) through a sample person. `touchpoint preview` and the
 * campaign page both show this, so what they show is what a run renders (decide + renderContext).
 */

/** Whom to preview for: a stored lead, or a sample person of a persona in a locale. */
export type PreviewFor = { lead: Lead } | { persona: string; locale: string | null };

export interface StepPreview {
  step: string;
  channel: 'email' | 'sms';
  persona: string;
  locale: string | null;
  /** The template file chosen for persona, locale and channel. */
  template: string;
  to: string;
  /** The lead previewed for; absent for a persona's sample person. */
  lead?: { externalId: string; name: string };
  /** Email only. */
  subject?: string;
  html?: string;
  /** The email's text part, or the SMS. */
  text: string;
  /** SMS only: what the text costs. */
  sms?: SegmentCount;
}

export interface PreviewDeps {
  renderer: TemplateRenderer;
  templatesDir: string;
  publicUrl: string;
}

/** A sample person's address and number: reserved for examples, never anyone's. */
const SAMPLE = { externalId: 'sample', email: 'sample@example.com', phone: '+4915112345678' };

/** The campaign's step with this id; the first step when none is named. */
export function requireStep(campaign: Campaign, stepId: string | undefined): Step {
  const step = stepId === undefined ? campaign.steps[0] : campaign.steps.find((s) => s.id === stepId);
  if (!step)
    throw new AppError('not_found', `${campaign.id} has no step '${stepId}' (steps: ${campaign.steps.map((s) => s.id).join(', ')})`);
  return step;
}

export function previewStep(
  deps: PreviewDeps,
  set: CampaignSet,
  campaign: Campaign,
  stepId: string | undefined,
  who: PreviewFor,
): StepPreview {
  const step = requireStep(campaign, stepId);
  const member = 'lead' in who ? { lead: who.lead, persona: resolvePersona(who.lead, set.personas) } : sampleMember(set, who);
  // Consent is not the question here: every channel counts as allowed.
  const allowed = { allowed: true as const, eventId: 0 };
  const decision = decide(member, step, { email: allowed, sms: allowed }, deps.templatesDir);
  if (decision.kind === 'suppress') {
    throw new AppError('not_found', `nothing to preview for ${member.lead.externalId}: ${decision.reason} on ${decision.channel}`);
  }
  const source = fs.readFileSync(path.join(deps.templatesDir, decision.template), 'utf8');
  const placeholders = samplePlaceholders(source, 'lead' in who ? undefined : member.lead);
  if (placeholders.lead) member.lead.attributes = { ...placeholders.lead, ...member.lead.attributes };
  const event = campaign.kind === 'event' ? placeholders.event : undefined;
  const context = renderContext(campaign, step, member, `${deps.publicUrl}/unsubscribe/<token>`, event);
  const head = {
    step: step.id,
    channel: decision.channel,
    persona: member.persona.id,
    locale: member.lead.locale,
    template: decision.template,
    to: decision.to,
    ...('lead' in who ? { lead: { externalId: who.lead.externalId, name: leadName(who.lead) } } : {}),
  };
  if (decision.channel === 'sms') {
    const text = deps.renderer.renderSms(decision.template, context);
    return { ...head, text, sms: countSegments(text) };
  }
  const email = deps.renderer.renderEmail(decision.template, context);
  return { ...head, subject: email.subject, html: email.html, text: email.text };
}

function sampleMember(set: CampaignSet, who: { persona: string; locale: string | null }): Member {
  const persona = set.personas.find((p) => p.id === who.persona);
  if (!persona) throw new AppError('not_found', `no persona '${who.persona}' (personas: ${set.personas.map((p) => p.id).join(', ')})`);
  const lead: Lead = {
    id: 0,
    ...SAMPLE,
    firstName: null,
    lastName: null,
    locale: who.locale,
    timezone: null,
    persona: persona.id,
    tags: [],
    attributes: {},
  };
  return { lead, persona };
}

/**
 * What a template reads that a preview has no value for, as visible placeholders (`[first_name]`):
 * every `lead.*` a sample person lacks, and the trigger event's properties (a preview has no
 * event). Strict rendering would otherwise refuse the preview for data only a real person has.
 * Variables the template tests with `#if` are left out, as a person without them would be.
 */
function samplePlaceholders(source: string, sample: Lead | undefined): { lead?: Record<string, string>; event: Record<string, string> } {
  const lead: Record<string, string> = {};
  const event: Record<string, string> = {};
  for (const v of templateVariables(source)) {
    const [root, key] = v.path;
    if (v.guarded || key === undefined) continue;
    if (root === 'event') event[key] = `[${key}]`;
    else if (root === 'lead' && sample) lead[key] = `[${key}]`;
  }
  return { lead: sample ? lead : undefined, event };
}
