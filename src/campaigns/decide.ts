import type { Channel } from '../channels/channel.ts';
import type { ConsentVerdict, RefusalReason } from '../consent/state.ts';
import type { Member } from '../leads/audience.ts';
import { toE164 } from '../leads/phone.ts';
import { findTemplate } from '../render/templates.ts';
import type { Campaign, Step, StepChannel } from './types.ts';

export type SuppressionReason = RefusalReason | 'bounced' | 'no_address' | 'invalid_address' | 'no_template';

export type Decision =
  | { kind: 'send'; channel: Channel; template: string; to: string; consentEventId: number }
  | { kind: 'suppress'; channel: Channel; reason: SuppressionReason };

/** Whether a message may go on a channel: consent's verdict, or a refusal for an undeliverable address (deliverability/state.ts). */
export type ChannelVerdict = ConsentVerdict | { allowed: false; reason: 'bounced' };

/** The verdict of one lead per channel its step may use. */
export type Verdicts = Partial<Record<Channel, ChannelVerdict>>;

export function channelsOf(channel: StepChannel): Channel[] {
  return channel === 'preferred' ? ['email', 'sms'] : [channel];
}

/** Every channel any step of the campaign may use, for batch consent look-ups. */
export function campaignChannels(campaign: Campaign): Channel[] {
  return [...new Set(campaign.steps.flatMap((s) => channelsOf(s.channel)))];
}

/** `preferred`: the lead's own choice (attribute `preferred_channel`), else the persona's, else email. */
function channelOrder(member: Member, step: Step): Channel[] {
  if (step.channel !== 'preferred') return [step.channel];
  const own = member.lead.attributes.preferred_channel;
  const preferred: Channel = own === 'sms' || own === 'email' ? own : (member.persona.preferred_channel ?? 'email');
  return preferred === 'sms' ? ['sms', 'email'] : ['email', 'sms'];
}

function onChannel(member: Member, step: Step, channel: Channel, verdict: ChannelVerdict | undefined, templatesDir: string): Decision {
  const v = verdict ?? { allowed: false, reason: 'no_consent' };
  if (!v.allowed) return { kind: 'suppress', channel, reason: v.reason };
  const { lead } = member;
  let to: string | undefined;
  if (channel === 'email') to = lead.email ?? undefined;
  else if (lead.phone) {
    to = toE164(lead.phone);
    if (!to) return { kind: 'suppress', channel, reason: 'invalid_address' };
  }
  if (!to) return { kind: 'suppress', channel, reason: 'no_address' };
  const template = findTemplate(templatesDir, step.template, member.persona.id, lead.locale, channel);
  if (!template) return { kind: 'suppress', channel, reason: 'no_template' };
  return { kind: 'send', channel, template, to, consentEventId: v.eventId };
}

/**
 * Who gets what, in one place, for `plan` and for runs alike: consent first (the person's will
 * outranks everything), then an address, then the most specific template for persona and locale.
 * A `preferred` step takes the preferred channel if it can, else the other one, else it is
 * suppressed with the reason of the preferred channel.
 */
export function decide(member: Member, step: Step, verdicts: Verdicts, templatesDir: string): Decision {
  const decisions = channelOrder(member, step).map((channel) => onChannel(member, step, channel, verdicts[channel], templatesDir));
  return decisions.find((d) => d.kind === 'send') ?? decisions[0]!;
}
