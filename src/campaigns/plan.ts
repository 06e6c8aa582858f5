import { countSegments } from '../channels/segments.ts';
import type { Clock } from '../clock.ts';
import { consentVerdictsFor } from '../consent/check.ts';
import type { Queryable } from '../db/statement.ts';
import { AppError, errorMessage } from '../errors.ts';
import { streamAudience } from '../leads/audience.ts';
import type { Persona } from '../leads/personas.ts';
import { capTimes } from '../messages/cap.ts';
import { idempotencyKey } from '../messages/record.ts';
import { composeMessage, type ComposeContext } from './compose.ts';
import { campaignChannels, decide, type SuppressionReason } from './decide.ts';
import { durationMs } from './duration.ts';
import { recipientZone, sendTime } from './send-time.ts';
import { localTime } from './timing.ts';
import type { Campaign } from './types.ts';

export interface PlannedMessage {
  lead: string;
  step: string;
  channel: string;
  persona: string;
  template: string;
  send_at: string;
  /** SMS only: what the rendered text costs (segments are what carriers bill). */
  encoding?: 'GSM-7' | 'UCS-2';
  segments?: number;
}

export interface Plan {
  campaign: string;
  recipients: PlannedMessage[];
  suppressed: { lead: string; step: string; reason: SuppressionReason | 'frequency_cap' | 'render_error'; detail?: string }[];
  /** SMS cost: how many texts and segments the step would send. */
  sms: { messages: number; segments: number };
}

/**
 * Who would get the first step if the campaign ran now, at which local time, and who would not
 * and why; nothing is recorded or sent. Works for any loaded campaign file, deployed or not.
 */
export async function planCampaign(
  deps: ComposeContext & { db: Queryable; templatesDir: string; batchSize: number; clock: Clock },
  campaign: Campaign,
  personas: readonly Persona[],
): Promise<Plan> {
  if (campaign.kind === 'event') {
    throw new AppError(
      'unsupported',
      `${campaign.id} is an event campaign: people enter it when '${campaign.trigger!.event}' happens, so there is no audience to plan`,
    );
  }
  const plan: Plan = { campaign: campaign.id, recipients: [], suppressed: [], sms: { messages: 0, segments: 0 } };
  const step = campaign.steps[0]!;
  const now = deps.clock.now();
  const due = new Date(now.getTime() + (step.wait ? durationMs(step.wait) : 0));
  for await (const members of streamAudience(deps.db, campaign.audience ?? {}, personas, deps.batchSize)) {
    const verdicts = await consentVerdictsFor(
      deps.db,
      members.map((m) => m.lead.id),
      campaignChannels(campaign),
      campaign.purpose,
    );
    const counted = campaign.frequency_cap
      ? await capTimes(
          deps.db,
          campaign,
          members.map((m) => ({ leadId: m.lead.id, nextDueAt: due })),
        )
      : undefined;
    for (const member of members) {
      const decision = decide(member, step, verdicts.get(member.lead.id)!, deps.templatesDir);
      const lead = member.lead.externalId;
      if (decision.kind === 'suppress') {
        plan.suppressed.push({ lead, step: step.id, reason: decision.reason });
        continue;
      }
      const at = sendTime(campaign, member.lead, due, counted?.get(member.lead.id) ?? [], decision.channel);
      if (!at) {
        plan.suppressed.push({ lead, step: step.id, reason: 'frequency_cap' });
        continue;
      }
      const planned: PlannedMessage = {
        lead,
        step: step.id,
        channel: decision.channel,
        persona: member.persona.id,
        template: decision.template,
        send_at: localTime(at, recipientZone(member.lead, campaign)),
      };
      if (decision.channel === 'sms') {
        // Rendered as it would be sent (a real signed link has the real length), then counted.
        const messageKey = idempotencyKey(campaign.id, step.id, member.lead.id, 'plan');
        let text: string;
        try {
          text = composeMessage(deps, campaign, step, member, { channel: 'sms', template: decision.template, messageKey }).bodyText;
        } catch (err) {
          plan.suppressed.push({ lead, step: step.id, reason: 'render_error', detail: errorMessage(err) });
          continue;
        }
        const { encoding, segments } = countSegments(text);
        Object.assign(planned, { encoding, segments });
        plan.sms.messages++;
        plan.sms.segments += segments;
      }
      plan.recipients.push(planned);
    }
  }
  return plan;
}

/** Suppressions counted per reason, most frequent first. */
export function countReasons(plan: Plan): [string, number][] {
  const counts = new Map<string, number>();
  for (const s of plan.suppressed) counts.set(s.reason, (counts.get(s.reason) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]);
}
