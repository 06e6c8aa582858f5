import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import { consentStatesFor, consentVerdict } from '../consent/check.ts';
import { signToken } from '../consent/tokens.ts';
import type { Db } from '../db/index.ts';
import * as schema from '../db/schema.ts';
import { AppError, errorMessage } from '../errors.ts';
import { streamAudience, type Member } from '../leads/audience.ts';
import type { Persona } from '../leads/personas.ts';
import { log } from '../log.ts';
import { idempotencyKey, notifyDispatchers, recordMessages, type NewMessage } from '../messages/record.ts';
import type { RenderContext, TemplateRenderer } from '../render/render.ts';
import { CAMPAIGN_CHANNEL, decide } from './decide.ts';
import { campaignRuns } from './schema.ts';
import type { Campaign, Step } from './types.ts';

export interface RunDeps {
  db: Db;
  pool: pg.Pool;
  renderer: TemplateRenderer;
  templatesDir: string;
  publicUrl: string;
  secret: string;
  batchSize: number;
}

export interface RunOptions {
  /** What makes this run's messages unique; the same occurrence never sends a step twice. */
  occurrence: string;
  trigger: 'manual' | 'schedule' | 'api';
  onProgress?: (counts: RunCounts) => void;
}

export interface RunCounts {
  audience: number;
  queued: number;
  suppressed: number;
  failed: number;
  /** Already recorded by an earlier or concurrent run of the same occurrence. */
  existing: number;
}

/** Occurrence label for a run started by hand, unless the user names one. */
export const MANUAL_OCCURRENCE = 'manual';

/**
 * Records the messages of one run: streams the audience and, per batch in one transaction,
 * re-checks consent as of now, renders, and inserts one row per recipient (to send, or
 * suppressed with its reason). Sending is the dispatchers' job.
 */
export async function runCampaign(
  deps: RunDeps,
  campaign: Campaign,
  personas: readonly Persona[],
  options: RunOptions,
): Promise<{ runId: number; counts: RunCounts }> {
  if (campaign.kind !== 'lead') throw new AppError('unsupported', `${campaign.id} is an event campaign; only lead campaigns run`);
  const [run] = await deps.db
    .insert(campaignRuns)
    .values({ campaignId: campaign.id, occurrence: options.occurrence, trigger: options.trigger })
    .returning({ id: campaignRuns.id });
  const runId = run!.id;
  const counts: RunCounts = { audience: 0, queued: 0, suppressed: 0, failed: 0, existing: 0 };
  try {
    for await (const members of streamAudience(deps.db, campaign.audience ?? {}, personas, deps.batchSize)) {
      await recordBatch(deps, campaign, members, runId, options.occurrence, counts);
      options.onProgress?.({ ...counts });
    }
    await deps.db.update(campaignRuns).set({ status: 'done', counts: { ...counts }, finishedAt: new Date() }).where(eq(campaignRuns.id, runId));
    log.info('run recorded', { campaign: campaign.id, occurrence: options.occurrence, run: runId, ...counts });
    return { runId, counts };
  } catch (err) {
    await deps.db
      .update(campaignRuns)
      .set({ status: 'failed', counts: { ...counts }, error: errorMessage(err), finishedAt: new Date() })
      .where(eq(campaignRuns.id, runId));
    throw err;
  }
}

async function recordBatch(
  deps: RunDeps,
  campaign: Campaign,
  members: Member[],
  runId: number,
  occurrence: string,
  counts: RunCounts,
): Promise<void> {
  const step = campaign.steps[0]!;
  const client = await deps.pool.connect();
  try {
    await client.query('BEGIN');
    const states = await consentStatesFor(client, members.map((m) => m.lead.id), CAMPAIGN_CHANNEL, campaign.purpose);
    const rows = members.map((member) =>
      messageRow(deps, campaign, step, member, runId, occurrence, consentVerdict(states.get(member.lead.id), CAMPAIGN_CHANNEL, campaign.purpose)),
    );
    const tx = drizzle(client, { schema });
    const recorded = await recordMessages(tx, rows);
    if (recorded.some((r) => r.status === 'queued')) await notifyDispatchers(tx);
    await client.query('COMMIT');
    counts.audience += members.length;
    counts.existing += rows.length - recorded.length;
    for (const r of recorded) {
      if (r.status === 'queued') counts.queued++;
      else if (r.status === 'failed') counts.failed++;
      else counts.suppressed++;
    }
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

function messageRow(
  deps: RunDeps,
  campaign: Campaign,
  step: Step,
  member: Member,
  runId: number,
  occurrence: string,
  verdict: ReturnType<typeof consentVerdict>,
): NewMessage {
  const { lead, persona } = member;
  const key = idempotencyKey(campaign.id, step.id, lead.id, occurrence);
  const decision = decide(member, step, verdict, deps.templatesDir);
  const base = {
    idempotencyKey: key,
    campaignId: campaign.id,
    stepId: step.id,
    occurrence,
    runId,
    leadId: lead.id,
    channel: decision.channel,
    purpose: campaign.purpose,
    persona: persona.id,
  };
  if (decision.kind === 'suppress') return { ...base, status: 'suppressed', reason: decision.reason };

  const unsubscribeUrl = `${deps.publicUrl}/unsubscribe/${signToken(deps.secret, {
    kind: 'unsubscribe',
    lead: lead.id,
    channel: decision.channel,
    purpose: campaign.purpose,
    message: key,
  })}`;
  const withContent = { ...base, template: decision.template, toAddress: decision.to, consentEventId: decision.consentEventId };
  try {
    const email = deps.renderer.renderEmail(decision.template, renderContext(campaign, step, member, unsubscribeUrl));
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

export function renderContext(campaign: Campaign, step: Step, member: Member, unsubscribeUrl: string): RenderContext {
  const { lead, persona } = member;
  const { match: _match, ...personaKeys } = persona;
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
  return {
    lead: { ...lead.attributes, ...known, persona: persona.id, tags: lead.tags },
    persona: personaKeys as Persona,
    campaign: { id: campaign.id, name: campaign.name, step: step.id },
    unsubscribe_url: unsubscribeUrl,
  };
}
