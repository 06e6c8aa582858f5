import { countSegments } from '../channels/segments.ts';
import type { Clock } from '../clock.ts';
import { consentVerdictsFor } from '../consent/check.ts';
import type { Queryable } from '../db/statement.ts';
import { refuseBounced } from '../deliverability/state.ts';
import { AppError, errorMessage } from '../errors.ts';
import { streamAudience } from '../leads/audience.ts';
import type { Persona } from '../leads/personas.ts';
import { leadName } from '../leads/types.ts';
import { capTimes } from '../messages/cap.ts';
import { defaultOccurrence, planStart } from '../scheduler/schedule.ts';
import { enrolledAlready } from '../sequences/enrollments.ts';
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

export interface PlanSuppression {
  lead: string;
  step: string;
  reason: SuppressionReason | 'frequency_cap' | 'render_error' | 'already_sent' | 'in_sequence';
  detail?: string;
}

export interface Plan {
  campaign: string;
  recipients: PlannedMessage[];
  suppressed: PlanSuppression[];
  /** SMS cost: how many texts and segments the step would send. */
  sms: { messages: number; segments: number };
}

/** What one batch of the audience would get: the plan, a batch at a time. */
export interface PlanBatch {
  recipients: PlannedMessage[];
  suppressed: PlanSuppression[];
  /** Who the batch's leads are, by external id, for pages that show and search people by name (absent: only ids are known). */
  people?: Map<string, PlanPerson>;
}

export interface PlanPerson {
  name: string;
  email: string | null;
}

export interface PlanOptions {
  /** The occurrence to plan; by default the one a run would use (scheduler/schedule.ts). */
  occurrence?: string;
}

/**
 * Who would get the first step if the campaign ran (at its `schedule.at` when that is ahead, else
 * now), at which local time, and who would not and why, `already_sent` included; nothing is
 * recorded or sent. Works for any loaded campaign file, deployed or not. The plan comes a batch of
 * the audience at a time, in memory that does not grow with the audience: planCampaign gathers it
 * for small campaigns, plan-output.ts counts or streams it for any size.
 */
export async function* planBatches(
  deps: ComposeContext & { db: Queryable; templatesDir: string; batchSize: number; clock: Clock },
  campaign: Campaign,
  personas: readonly Persona[],
  options: PlanOptions = {},
): AsyncGenerator<PlanBatch> {
  if (campaign.kind === 'event') {
    throw new AppError(
      'unsupported',
      `${campaign.id} is an event campaign: people enter it when '${campaign.trigger!.event}' happens, so there is no audience to plan`,
    );
  }
  const step = campaign.steps[0]!;
  const now = deps.clock.now();
  const occurrence = options.occurrence ?? defaultOccurrence(campaign, now);
  const due = new Date(planStart(campaign, now).getTime() + (step.wait ? durationMs(step.wait) : 0));
  const audience = streamAudience(deps.db, campaign.audience ?? {}, personas, deps.batchSize)[Symbol.asyncIterator]();
  const lookUp = async () => {
    const next = await audience.next();
    if (next.done) return undefined;
    const members = next.value;
    const ids = members.map((m) => m.lead.id);
    const [verdicts, counted, enrolled] = await Promise.all([
      consentVerdictsFor(deps.db, ids, campaignChannels(campaign), campaign.purpose).then((verdicts) =>
        refuseBounced(
          deps.db,
          members.map((m) => m.lead),
          verdicts,
        ),
      ),
      campaign.frequency_cap
        ? capTimes(
            deps.db,
            campaign,
            members.map((m) => ({ leadId: m.lead.id, nextDueAt: due })),
          )
        : undefined,
      enrolledAlready(deps.db, campaign.id, ids, occurrence),
    ]);
    return { members, verdicts, counted, enrolled };
  };
  // The database reads the next batch while this one is decided: one batch ahead, no more.
  let ahead = lookUp();
  for (;;) {
    const current = await ahead;
    if (!current) return;
    ahead = lookUp();
    // Awaited on the next turn; until then a failure must not count as unhandled.
    ahead.catch(() => {});
    const { members, verdicts, counted, enrolled } = current;
    const people = new Map<string, PlanPerson>();
    const batch: PlanBatch = { recipients: [], suppressed: [], people };
    // Most of a batch is due at the same instant in a few zones: each local time is written once.
    const localTimes = new Map<string, string>();
    const local = (at: Date, zone: string) => {
      const key = `${at.getTime()} ${zone}`;
      let text = localTimes.get(key);
      if (text === undefined) localTimes.set(key, (text = localTime(at, zone)));
      return text;
    };
    for (const member of members) {
      const lead = member.lead.externalId;
      people.set(lead, { name: leadName(member.lead), email: member.lead.email });
      // A run would not enroll them, so it would send them nothing.
      const left = enrolled.get(member.lead.id);
      if (left) {
        batch.suppressed.push({ lead, step: step.id, reason: left });
        continue;
      }
      const decision = decide(member, step, verdicts.get(member.lead.id)!, deps.templatesDir);
      if (decision.kind === 'suppress') {
        batch.suppressed.push({ lead, step: step.id, reason: decision.reason });
        continue;
      }
      const at = sendTime(campaign, member.lead, due, counted?.get(member.lead.id) ?? [], decision.channel);
      if (!at) {
        batch.suppressed.push({ lead, step: step.id, reason: 'frequency_cap' });
        continue;
      }
      const planned: PlannedMessage = {
        lead,
        step: step.id,
        channel: decision.channel,
        persona: member.persona.id,
        template: decision.template,
        send_at: local(at, recipientZone(member.lead, campaign)),
      };
      if (decision.channel === 'sms') {
        // Rendered as it would be sent (a real signed link has the real length), then counted.
        const messageKey = idempotencyKey(campaign.id, step.id, member.lead.id, 'plan');
        let text: string;
        try {
          text = composeMessage(deps, campaign, step, member, { channel: 'sms', template: decision.template, messageKey }).bodyText;
        } catch (err) {
          batch.suppressed.push({ lead, step: step.id, reason: 'render_error', detail: errorMessage(err) });
          continue;
        }
        const { encoding, segments } = countSegments(text);
        Object.assign(planned, { encoding, segments });
      }
      batch.recipients.push(planned);
    }
    yield batch;
  }
}

/** SMS cost of planned messages, added to `sms`. */
export function addSmsCost(sms: Plan['sms'], recipients: readonly PlannedMessage[]): void {
  for (const r of recipients) {
    if (r.segments === undefined) continue;
    sms.messages++;
    sms.segments += r.segments;
  }
}

/** The whole plan in memory: for small campaigns (tests, previews); large ones stream (plan-output.ts). */
export async function planCampaign(
  deps: Parameters<typeof planBatches>[0],
  campaign: Campaign,
  personas: readonly Persona[],
  options: PlanOptions = {},
): Promise<Plan> {
  const plan: Plan = { campaign: campaign.id, recipients: [], suppressed: [], sms: { messages: 0, segments: 0 } };
  for await (const batch of planBatches(deps, campaign, personas, options)) {
    plan.recipients.push(...batch.recipients);
    plan.suppressed.push(...batch.suppressed);
    addSmsCost(plan.sms, batch.recipients);
  }
  return plan;
}
