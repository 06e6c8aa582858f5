import type { ConsentVerdict } from '../consent/check.ts';
import type { Member } from '../leads/audience.ts';
import { findTemplate } from '../render/templates.ts';
import type { Channel, Step } from './types.ts';

/** Validation refuses `sms` and `preferred` steps until the SMS channel lands, so every step is email. */
export const CAMPAIGN_CHANNEL: Channel = 'email';

export type SuppressionReason = 'no_consent' | 'unconfirmed' | 'withdrawn' | 'no_address' | 'no_template';

export type Decision =
  | { kind: 'send'; channel: Channel; template: string; to: string; consentEventId: number }
  | { kind: 'suppress'; channel: Channel; reason: SuppressionReason };

/**
 * Who gets what, in one place, for `plan` and for runs alike: consent first (the person's will
 * outranks everything), then an address, then the most specific template for persona and locale.
 */
export function decide(member: Member, step: Step, verdict: ConsentVerdict, templatesDir: string): Decision {
  const channel = CAMPAIGN_CHANNEL;
  if (!verdict.allowed) return { kind: 'suppress', channel, reason: verdict.reason };
  const to = member.lead.email;
  if (!to) return { kind: 'suppress', channel, reason: 'no_address' };
  const template = findTemplate(templatesDir, step.template, member.persona.id, member.lead.locale, channel);
  if (!template) return { kind: 'suppress', channel, reason: 'no_template' };
  return { kind: 'send', channel, template, to, consentEventId: verdict.eventId };
}

