import type pg from 'pg';
import type { Clock } from '../clock.ts';
import { consentVerdictsFor } from '../consent/check.ts';
import type { Db } from '../db/index.ts';
import { AppError } from '../errors.ts';
import { streamAudience } from '../leads/audience.ts';
import type { Persona } from '../leads/personas.ts';
import { countSegments } from '../channels/segments.ts';
import { errorMessage } from '../errors.ts';
import { idempotencyKey } from '../messages/record.ts';
import type { TemplateRenderer } from '../render/render.ts';
import { capTimesFor, recipientZone, renderContext, sendTime, unsubscribeUrlFor } from '../sequences/steps.ts';
import { localTime } from '../sequences/timing.ts';
import { durationMs } from './duration.ts';
import { campaignChannels, decide, type SuppressionReason } from './decide.ts';
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
  deps: { db: Db; pool: pg.Pool; templatesDir: string; renderer: TemplateRenderer; publicUrl: string; secret: string; batchSize: number; clock: Clock },
  campaign: Campaign,
  personas: readonly Persona[],
): Promise<Plan> {
  if (campaign.kind === 'event') {
    throw new AppError('unsupported', `${campaign.id} is an event campaign: people enter it when '${campaign.trigger!.event}' happens, so there is no audience to plan`);
  }
  const plan: Plan = { campaign: campaign.id, recipients: [], suppressed: [], sms: { messages: 0, segments: 0 } };
  const step = campaign.steps[0]!;
  const now = deps.clock.now();
  const due = new Date(now.getTime() + (step.wait ? durationMs(step.wait) : 0));
  for await (const members of streamAudience(deps.db, campaign.audience ?? {}, personas, deps.batchSize)) {
    const verdicts = await consentVerdictsFor(deps.pool, members.map((m) => m.lead.id), campaignChannels(campaign), campaign.purpose);
    const capTimes = campaign.frequency_cap
      ? await capTimesFor(deps.pool, campaign, members.map((m) => ({ leadId: m.lead.id, nextDueAt: due })))
      : undefined;
    for (const member of members) {
      const decision = decide(member, step, verdicts.get(member.lead.id)!, deps.templatesDir);
      const lead = member.lead.externalId;
      if (decision.kind === 'suppress') {
        plan.suppressed.push({ lead, step: step.id, reason: decision.reason });
        continue;
      }
      const at = sendTime(campaign, member.lead, due, capTimes?.get(member.lead.id) ?? [], decision.channel);
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
        const key = idempotencyKey(campaign.id, step.id, member.lead.id, 'plan');
        const url = unsubscribeUrlFor(deps, member.lead.id, 'sms', campaign.purpose, key);
        let text: string;
        try {
          text = deps.renderer.renderSms(decision.template, renderContext(campaign, step, member, url));
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
