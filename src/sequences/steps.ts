import type pg from 'pg';
import { composeMessage, type ComposeContext } from '../campaigns/compose.ts';
import { campaignChannels, decide, type Verdicts } from '../campaigns/decide.ts';
import { durationMs } from '../campaigns/duration.ts';
import { sendTime } from '../campaigns/send-time.ts';
import type { CampaignSet } from '../campaigns/set.ts';
import type { Campaign, Step } from '../campaigns/types.ts';
import type { Clock } from '../clock.ts';
import { consentVerdictsFor } from '../consent/check.ts';
import { refuseBounced } from '../deliverability/state.ts';
import { errorMessage } from '../errors.ts';
import type { Member } from '../leads/audience.ts';
import { eventProperties } from '../leads/events.ts';
import { resolvePersona } from '../leads/personas.ts';
import { leadsByIds } from '../leads/store.ts';
import type { Lead } from '../leads/types.ts';
import { log } from '../log.ts';
import { lockedCapTimes } from '../messages/cap.ts';
import { idempotencyKey, recordMessages, type NewMessage, type RecordedMessage } from '../messages/record.ts';
import { saveOutcomes, type DueEnrollment, type Outcome } from './enrollments.ts';

/** What recording steps needs besides the database: campaigns, templates, links, time. */
export interface StepContext extends ComposeContext {
  set: CampaignSet;
  templatesDir: string;
  clock: Clock;
}

export interface StepCounts {
  queued: number;
  suppressed: number;
  failed: number;
}

/** A campaign that cannot be loaded right now (a broken edit) is retried this much later. */
const BROKEN_CAMPAIGN_RETRY_MS = 5 * 60_000;

/** What the caller of a step already holds: its run, the leads, the properties of the events that started the enrollments (by event id). */
interface StepOptions {
  runId?: number;
  leads?: Map<number, Lead>;
  triggers?: Map<number, Record<string, unknown>>;
}

/**
 * Records the current step of each due enrollment and moves it on, in the caller's transaction:
 * consent as of now, `unless` conditions, the persona's template, the recipient's send window and
 * the frequency cap decide each message; the enrollment then waits for its next step, completes,
 * or exits (withdrawn consent, a step that no longer exists).
 */
export async function processEnrollments(
  client: pg.PoolClient,
  ctx: StepContext,
  due: DueEnrollment[],
  options: StepOptions = {},
): Promise<StepCounts> {
  const counts: StepCounts = { queued: 0, suppressed: 0, failed: 0 };
  for (const r of await recordSteps(client, ctx, due, options)) countOutcome(counts, r.status);
  return counts;
}

/** Adds a recorded message's status to its count: queued, failed, or suppressed (every other status a step records). */
export function countOutcome(counts: StepCounts, status: RecordedMessage['status']): void {
  counts[status === 'queued' ? 'queued' : status === 'failed' ? 'failed' : 'suppressed']++;
}

/** `processEnrollments`, answering the messages it recorded (each names its enrollment) instead of their counts. */
export async function recordSteps(
  client: pg.PoolClient,
  ctx: StepContext,
  due: DueEnrollment[],
  options: StepOptions = {},
): Promise<RecordedMessage[]> {
  if (due.length === 0) return [];
  const leadById =
    options.leads ??
    (await leadsByIds(
      client,
      due.map((e) => e.leadId),
    ));
  const triggers =
    options.triggers ??
    (await eventProperties(
      client,
      due.flatMap((e) => (e.triggerEventId === null ? [] : [e.triggerEventId])),
    ));
  const rows: NewMessage[] = [];
  const outcomes: Outcome[] = [];

  for (const [campaignId, group] of groupBy(due, (e) => e.campaignId)) {
    const campaign = ctx.set.campaigns.get(campaignId);
    if (!campaign) {
      log.warn('campaign of due enrollments cannot be loaded; retrying later', { campaign: campaignId, enrollments: group.length });
      const later = new Date(ctx.clock.now().getTime() + BROKEN_CAMPAIGN_RETRY_MS);
      for (const e of group) outcomes.push({ id: e.id, status: 'active', currentStep: e.currentStep, nextDueAt: later, exitReason: null });
      continue;
    }
    const verdicts = await refuseBounced(
      client,
      group.map((e) => leadById.get(e.leadId)!),
      await consentVerdictsFor(
        client,
        group.map((e) => e.leadId),
        campaignChannels(campaign),
        campaign.purpose,
      ),
    );
    const capTimes = campaign.frequency_cap ? await lockedCapTimes(client, campaign, group) : undefined;
    for (const enrollment of group) {
      const lead = leadById.get(enrollment.leadId)!;
      const member: Member = { lead, persona: resolvePersona(lead, ctx.set.personas) };
      const event = enrollment.triggerEventId === null ? undefined : triggers.get(enrollment.triggerEventId);
      const index = campaign.steps.findIndex((s) => s.id === enrollment.currentStep);
      if (index < 0) {
        outcomes.push({
          id: enrollment.id,
          status: 'exited',
          currentStep: enrollment.currentStep,
          nextDueAt: null,
          exitReason: 'step_removed',
        });
        continue;
      }
      const step = campaign.steps[index]!;
      const row = stepMessage(
        ctx,
        campaign,
        step,
        { ...member, event },
        enrollment,
        verdicts.get(lead.id)!,
        capTimes?.get(lead.id) ?? [],
        options.runId,
      );
      rows.push(row);
      const sentAt = row.dueAt as Date;
      if (row.reason === 'withdrawn') {
        outcomes.push({ id: enrollment.id, status: 'exited', currentStep: step.id, nextDueAt: null, exitReason: 'withdrawn' });
      } else if (row.status === 'failed') {
        // Held on this step (no due time) until `retry` records it again or skips it: the next
        // step must not go out as if this one had.
        outcomes.push({ id: enrollment.id, status: 'active', currentStep: step.id, nextDueAt: null, exitReason: null });
      } else {
        outcomes.push(movedOn(campaign, index, enrollment.id, sentAt));
      }
      if (row.status === 'queued') capTimes?.get(lead.id)?.push(sentAt.getTime());
    }
  }

  const recorded = await recordMessages(client, rows);
  await saveOutcomes(client, outcomes, ctx.clock.now());
  return recorded;
}

/** An enrollment past the step at `index` (recorded or skipped at `after`): waiting for the next step, or completed. */
export function movedOn(campaign: Campaign, index: number, id: number, after: Date): Outcome {
  const next = campaign.steps[index + 1];
  if (!next) return { id, status: 'completed', currentStep: null, nextDueAt: null, exitReason: null };
  const nextDueAt = new Date(after.getTime() + (next.wait ? durationMs(next.wait) : 0));
  return { id, status: 'active', currentStep: next.id, nextDueAt, exitReason: null };
}

/** The message row for one enrollment's step: suppressed with its reason, failed to render, or queued. */
function stepMessage(
  ctx: StepContext,
  campaign: Campaign,
  step: Step,
  member: Member & { event: Record<string, unknown> | undefined },
  enrollment: DueEnrollment,
  verdicts: Verdicts,
  capTimes: number[],
  runId: number | undefined,
): NewMessage {
  const { lead, persona } = member;
  const key = idempotencyKey(campaign.id, step.id, lead.id, enrollment.occurrence);
  const base = {
    idempotencyKey: key,
    campaignId: campaign.id,
    stepId: step.id,
    occurrence: enrollment.occurrence,
    runId,
    enrollmentId: enrollment.id,
    leadId: lead.id,
    channel: step.channel === 'sms' ? ('sms' as const) : ('email' as const),
    purpose: campaign.purpose,
    persona: persona.id,
    dueAt: enrollment.nextDueAt,
  };
  // Consent first: a person who replied "remove me" is recorded as withdrawn, not as replied.
  const decision = decide(member, step, verdicts, ctx.templatesDir);
  if (decision.kind === 'suppress') return { ...base, channel: decision.channel, status: 'suppressed', reason: decision.reason };
  const skipped = unlessReason(step, enrollment);
  if (skipped) return { ...base, channel: decision.channel, status: 'suppressed', reason: skipped };
  const at = sendTime(campaign, lead, enrollment.nextDueAt, capTimes, decision.channel);
  if (!at) return { ...base, channel: decision.channel, status: 'suppressed', reason: 'frequency_cap' };

  const withContent = {
    ...base,
    channel: decision.channel,
    dueAt: at,
    template: decision.template,
    toAddress: decision.to,
    consentEventId: decision.consentEventId,
  };
  try {
    return {
      ...withContent,
      status: 'queued',
      ...composeMessage(ctx, campaign, step, member, {
        channel: decision.channel,
        template: decision.template,
        messageKey: key,
        event: member.event,
      }),
    };
  } catch (err) {
    // A template that cannot render for this person fails this message only, with the reason kept.
    return { ...withContent, status: 'failed', reason: 'render_error', lastError: errorMessage(err) };
  }
}

/** Why `unless` skips this step, if it does. Opens are not tracked, so `opened` never does. */
function unlessReason(step: Step, enrollment: DueEnrollment): string | undefined {
  if (step.unless?.includes('goal') && enrollment.convertedAt) return 'goal';
  if (step.unless?.includes('replied') && enrollment.repliedAt) return 'replied';
  return undefined;
}

/** Items by key, each group in input order. */
export function groupBy<T, K>(items: T[], key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k);
    if (list) list.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}
