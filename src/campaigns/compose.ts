import { signToken } from '../consent/tokens.ts';
import type { Channel } from '../channels/channel.ts';
import type { Member } from '../leads/audience.ts';
import { leadFields } from '../leads/types.ts';
import type { RenderContext, TemplateRenderer } from '../render/render.ts';
import type { Campaign, Step } from './types.ts';

/** What composing a message needs: templates, the public URL and key for its links, and our Feedback-ID sender. */
export interface ComposeContext {
  renderer: TemplateRenderer;
  publicUrl: string;
  secret: string;
  feedbackIdSender: string;
}

/** A step's message as the person gets it. */
export interface ComposedMessage {
  subject: string;
  bodyText: string;
  bodyHtml: string;
  headers: Record<string, string>;
}

/** The signed link that withdraws this person's consent for the channel and purpose of one message. */
export function unsubscribeUrlFor(
  ctx: { publicUrl: string; secret: string },
  leadId: number,
  channel: Channel,
  purpose: string,
  messageKey: string,
): string {
  return `${ctx.publicUrl}/unsubscribe/${signToken(ctx.secret, { kind: 'unsubscribe', lead: leadId, channel, purpose, message: messageKey })}`;
}

/**
 * Gmail's Feedback-ID (`campaign:step:purpose:sender`, the last field the sender's id): its
 * feedback loop counts complaints per field value. Colons and spaces would split or end a field,
 * so they become dashes. Derived from the step alone, so every retry carries the same one; the
 * DKIM signature covers it (channels/dkim.ts), without which Gmail ignores it.
 */
export function feedbackId(campaign: Campaign, step: Step, sender: string): string {
  return [campaign.id, step.id, campaign.purpose, sender].map((field) => field.replace(/[:\s]+/g, '-')).join(':');
}

/** The signed link to the satisfaction survey about one inbound contact (no login; http/csat.ts). */
export function csatUrlFor(ctx: { publicUrl: string; secret: string }, contactId: number, leadId: number): string {
  return `${ctx.publicUrl}/csat/${signToken(ctx.secret, { kind: 'csat', contact: contactId, lead: leadId })}`;
}

/**
 * `{{csat_link}}` in a sequence started by `contact_closed`: the survey about the contact closed.
 * Elsewhere it is not in the context, so a template reading it fails (and `validate` says why).
 */
function csatLink(
  ctx: ComposeContext,
  campaign: Campaign,
  member: Member,
  event: Record<string, unknown> | undefined,
): { csat_link?: string } {
  const contact = event?.contact;
  return campaign.trigger?.event === 'contact_closed' && typeof contact === 'number'
    ? { csat_link: csatUrlFor(ctx, contact, member.lead.id) }
    : {};
}

/** What a template sees of a lead, its persona and the campaign step. */
export function renderContext(
  campaign: Campaign,
  step: Step,
  member: Member,
  unsubscribeUrl: string,
  event?: Record<string, unknown>,
): RenderContext {
  const { lead, persona } = member;
  const { persona: _explicit, ...fields } = leadFields(lead);
  // Unknown fields are left out rather than set to null, so strict rendering fails the message
  // instead of greeting someone with an empty name.
  const known = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null && v !== undefined));
  const { match: _match, ...personaKeys } = persona;
  return {
    lead: { ...lead.attributes, ...known, persona: persona.id, tags: lead.tags },
    persona: personaKeys,
    campaign: { id: campaign.id, name: campaign.name, step: step.id },
    unsubscribe_url: unsubscribeUrl,
    ...(event ? { event } : {}),
  };
}

/**
 * Renders a step's template for one person, with a working unsubscribe link of its own (email
 * also in List-Unsubscribe, one-click per RFC 8058). Throws when the template cannot render for
 * this person (a variable they lack): that message fails, not the batch.
 */
export function composeMessage(
  ctx: ComposeContext,
  campaign: Campaign,
  step: Step,
  member: Member,
  send: { channel: Channel; template: string; messageKey: string; event?: Record<string, unknown> },
): ComposedMessage {
  const unsubscribeUrl = unsubscribeUrlFor(ctx, member.lead.id, send.channel, campaign.purpose, send.messageKey);
  const context = { ...renderContext(campaign, step, member, unsubscribeUrl, send.event), ...csatLink(ctx, campaign, member, send.event) };
  if (send.channel === 'sms') return { subject: '', bodyText: ctx.renderer.renderSms(send.template, context), bodyHtml: '', headers: {} };
  const email = ctx.renderer.renderEmail(send.template, context);
  return {
    subject: email.subject,
    bodyHtml: email.html,
    bodyText: email.text,
    headers: {
      'List-Unsubscribe': `<${unsubscribeUrl}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      'X-Touchpoint-Campaign': campaign.id,
      'Feedback-ID': feedbackId(campaign, step, ctx.feedbackIdSender),
    },
  };
}
