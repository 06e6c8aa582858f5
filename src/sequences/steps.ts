import type pg from 'pg';
import { clientDb } from '../db/index.ts';
import { campaignChannels, decide, type Verdicts } from '../campaigns/decide.ts';
import { durationMs } from '../campaigns/duration.ts';
import type { Campaign, CampaignSet, Channel, Step } from '../campaigns/types.ts';
import type { Clock } from '../clock.ts';
import { consentVerdictsFor } from '../consent/check.ts';
import { signToken } from '../consent/tokens.ts';
import { errorMessage } from '../errors.ts';
import type { Member } from '../leads/audience.ts';
import { resolvePersona } from '../leads/personas.ts';
import { leads } from '../leads/schema.ts';
import type { Lead } from '../leads/types.ts';
import { log } from '../log.ts';
import { idempotencyKey, recordMessages, type NewMessage } from '../messages/record.ts';
import type { RenderContext, TemplateRenderer } from '../render/render.ts';
import { inArray } from 'drizzle-orm';
import { cappedTimes, capSendTime } from './cap.ts';
import { nextWindowOpening } from './timing.ts';

/** What recording a step needs besides the database: campaigns, templates, links, time. */
export interface StepContext {
  set: CampaignSet;
  renderer: TemplateRenderer;
  templatesDir: string;
  publicUrl: string;
  secret: string;
  clock: Clock;
}

/** An enrollment as the processor needs it (a row of `enrollments`). */
export interface DueEnrollment {
  id: number;
  campaignId: string;
  leadId: number;
  occurrence: string;
  currentStep: string | null;
  nextDueAt: Date;
  convertedAt: Date | null;
  repliedAt: Date | null;
}

export interface StepCounts {
  queued: number;
  suppressed: number;
  failed: number;
}

interface Outcome {
  id: number;
  status: 'active' | 'completed' | 'exited';
  currentStep: string | null;
  nextDueAt: Date | null;
  exitReason: string | null;
}

/** A campaign that cannot be loaded right now (a broken edit) is retried this much later. */
const BROKEN_CAMPAIGN_RETRY_MS = 5 * 60_000;

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
  options: { runId?: number; leads?: Map<number, Lead> } = {},
): Promise<StepCounts> {
  const counts: StepCounts = { queued: 0, suppressed: 0, failed: 0 };
  if (due.length === 0) return counts;
  const leadById = options.leads ?? (await loadLeads(client, due.map((e) => e.leadId)));
  const runId = options.runId;
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
    const verdicts = await consentVerdictsFor(client, group.map((e) => e.leadId), campaignChannels(campaign), campaign.purpose);
    const capTimes = campaign.frequency_cap ? await capTimesFor(client, campaign, group) : undefined;
    for (const enrollment of group) {
      const lead = leadById.get(enrollment.leadId)!;
      const member: Member = { lead, persona: resolvePersona(lead, ctx.set.personas) };
      const index = campaign.steps.findIndex((s) => s.id === enrollment.currentStep);
      if (index < 0) {
        outcomes.push({ id: enrollment.id, status: 'exited', currentStep: enrollment.currentStep, nextDueAt: null, exitReason: 'step_removed' });
        continue;
      }
      const step = campaign.steps[index]!;
      const row = stepMessage(ctx, campaign, step, member, enrollment, verdicts.get(lead.id)!, capTimes?.get(lead.id) ?? [], runId);
      rows.push(row);
      const sentAt = row.dueAt as Date;
      const next = campaign.steps[index + 1];
      if (row.reason === 'withdrawn') {
        outcomes.push({ id: enrollment.id, status: 'exited', currentStep: step.id, nextDueAt: null, exitReason: 'withdrawn' });
      } else if (next) {
        const nextDueAt = new Date(sentAt.getTime() + (next.wait ? durationMs(next.wait) : 0));
        outcomes.push({ id: enrollment.id, status: 'active', currentStep: next.id, nextDueAt, exitReason: null });
      } else {
        outcomes.push({ id: enrollment.id, status: 'completed', currentStep: null, nextDueAt: null, exitReason: null });
      }
      if (row.status === 'queued') capTimes?.get(lead.id)?.push(sentAt.getTime());
    }
  }

  const recorded = await recordMessages(client, rows);
  for (const r of recorded) counts[r.status === 'queued' ? 'queued' : r.status === 'failed' ? 'failed' : 'suppressed']++;
  await saveOutcomes(client, outcomes, ctx.clock.now());
  return counts;
}

/** The leads of a batch, by id. */
export async function loadLeads(client: pg.PoolClient, ids: number[]): Promise<Map<number, Lead>> {
  const rows = await clientDb(client).select().from(leads).where(inArray(leads.id, [...new Set(ids)]));
  return new Map(rows.map((l) => [l.id, l]));
}

export async function capTimesFor(client: pg.Pool | pg.PoolClient, campaign: Campaign, group: { leadId: number; nextDueAt: Date }[]) {
  const per = durationMs(campaign.frequency_cap!.per);
  const earliest = Math.min(...group.map((e) => e.nextDueAt.getTime()));
  const latest = Math.max(...group.map((e) => e.nextDueAt.getTime()));
  const times = await cappedTimes(client, group.map((e) => e.leadId), campaign.purpose, {
    from: new Date(earliest - per),
    // Deferred messages land up to `per` later, and a window may push them another day or so.
    to: new Date(latest + 2 * per + 2 * 86_400_000),
  });
  for (const e of group) if (!times.has(e.leadId)) times.set(e.leadId, []);
  return times;
}

/** The zone a lead's send window is read in: theirs, else the campaign's, else UTC. */
export function recipientZone(lead: Lead, campaign: Campaign): string {
  return lead.timezone ?? campaign.schedule?.timezone ?? 'UTC';
}

/** Marketing SMS go out only between these local hours, whatever a campaign's window says. */
export const SMS_QUIET_HOURS = { from: '08:00', to: '21:00' } as const;

/**
 * When a step would go: its due instant, moved into the recipient's send window (and, for
 * marketing SMS, the 08:00–21:00 day), then past the frequency cap (or undefined when the cap
 * says skip).
 */
export function sendTime(campaign: Campaign, lead: Lead, due: Date, capTimes: number[], channel: Channel): Date | undefined {
  const zone = recipientZone(lead, campaign);
  const windows = [
    ...(campaign.send_window ? [campaign.send_window] : []),
    ...(channel === 'sms' && campaign.purpose === 'marketing' ? [SMS_QUIET_HOURS] : []),
  ];
  // The first instant inside every window: move into each in turn until none moves it further.
  const adjust = (t: Date) => {
    for (let round = 0; round < 4; round++) {
      const moved = windows.reduce((at, w) => nextWindowOpening(at, w, zone), t);
      if (moved.getTime() === t.getTime()) return t;
      t = moved;
    }
    return t;
  };
  return campaign.frequency_cap ? capSendTime(campaign.frequency_cap, capTimes, due, adjust) : adjust(due);
}

function stepMessage(
  ctx: StepContext,
  campaign: Campaign,
  step: Step,
  member: Member,
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

  const unsubscribeUrl = unsubscribeUrlFor(ctx, lead.id, decision.channel, campaign.purpose, key);
  const withContent = {
    ...base,
    channel: decision.channel,
    dueAt: at,
    template: decision.template,
    toAddress: decision.to,
    consentEventId: decision.consentEventId,
  };
  try {
    const context = renderContext(campaign, step, member, unsubscribeUrl);
    if (decision.channel === 'sms') {
      return { ...withContent, status: 'queued', subject: '', bodyText: ctx.renderer.renderSms(decision.template, context), bodyHtml: '' };
    }
    const email = ctx.renderer.renderEmail(decision.template, context);
    return {
      ...withContent,
      status: 'queued',
      subject: email.subject,
      bodyHtml: email.html,
      bodyText: email.text,
      headers: {
        'List-Unsubscribe': `<${unsubscribeUrl}>`,
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
        'X-Touchpoint-Campaign': campaign.id,
      },
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

/** The signed link that withdraws this person's consent for the channel and purpose of one message. */
export function unsubscribeUrlFor(ctx: { publicUrl: string; secret: string }, leadId: number, channel: Channel, purpose: string, messageKey: string): string {
  return `${ctx.publicUrl}/unsubscribe/${signToken(ctx.secret, { kind: 'unsubscribe', lead: leadId, channel, purpose, message: messageKey })}`;
}

export function renderContext(campaign: Campaign, step: Step, member: Member, unsubscribeUrl: string): RenderContext {
  const { lead, persona } = member;
  const fields = {
    external_id: lead.externalId,
    email: lead.email,
    phone: lead.phone,
    first_name: lead.firstName,
    last_name: lead.lastName,
    locale: lead.locale,
    timezone: lead.timezone,
  };
  // Unknown fields are left out rather than set to null, so strict rendering fails the message
  // instead of greeting someone with an empty name.
  const known = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null && v !== undefined));
  const { match: _match, ...personaKeys } = persona;
  return {
    lead: { ...lead.attributes, ...known, persona: persona.id, tags: lead.tags },
    persona: personaKeys,
    campaign: { id: campaign.id, name: campaign.name, step: step.id },
    unsubscribe_url: unsubscribeUrl,
  };
}

async function saveOutcomes(client: pg.PoolClient, outcomes: Outcome[], now: Date): Promise<void> {
  if (outcomes.length === 0) return;
  await client.query(
    `UPDATE enrollments e
        SET status = o.status, current_step = o.current_step, next_due_at = o.next_due_at, exit_reason = o.exit_reason,
            finished_at = CASE WHEN o.status = 'active' THEN NULL ELSE $6::timestamptz END
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::text[])
            AS o(id, status, current_step, next_due_at, exit_reason)
      WHERE e.id = o.id`,
    [
      outcomes.map((o) => o.id),
      outcomes.map((o) => o.status),
      outcomes.map((o) => o.currentStep),
      outcomes.map((o) => o.nextDueAt),
      outcomes.map((o) => o.exitReason),
      now,
    ],
  );
}

function groupBy<T, K>(items: T[], key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k);
    if (list) list.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}
