import type pg from 'pg';
import { consentStatesFor, consentVerdict } from '../consent/check.ts';
import type { Db } from '../db/index.ts';
import { streamAudience } from '../leads/audience.ts';
import type { Persona } from '../leads/personas.ts';
import { CAMPAIGN_CHANNEL, decide, type SuppressionReason } from './decide.ts';
import type { Campaign } from './types.ts';

export interface Plan {
  campaign: string;
  recipients: { lead: string; step: string; channel: string; persona: string; template: string }[];
  suppressed: { lead: string; step: string; reason: SuppressionReason }[];
}

/**
 * Who would get which step right now, and who would not and why, without recording or sending
 * anything. Works for any loaded campaign file, deployed or not.
 */
export async function planCampaign(
  deps: { db: Db; pool: pg.Pool; templatesDir: string; batchSize: number },
  campaign: Campaign,
  personas: readonly Persona[],
): Promise<Plan> {
  const plan: Plan = { campaign: campaign.id, recipients: [], suppressed: [] };
  const step = campaign.steps[0]!;
  for await (const members of streamAudience(deps.db, campaign.audience ?? {}, personas, deps.batchSize)) {
    const states = await consentStatesFor(deps.pool, members.map((m) => m.lead.id), CAMPAIGN_CHANNEL, campaign.purpose);
    for (const member of members) {
      const verdict = consentVerdict(states.get(member.lead.id), CAMPAIGN_CHANNEL, campaign.purpose);
      const decision = decide(member, step, verdict, deps.templatesDir);
      const lead = member.lead.externalId;
      if (decision.kind === 'send') {
        plan.recipients.push({ lead, step: step.id, channel: decision.channel, persona: member.persona.id, template: decision.template });
      } else {
        plan.suppressed.push({ lead, step: step.id, reason: decision.reason });
      }
    }
  }
  return plan;
}

/** Suppressions counted per reason, most frequent first. */
export function countReasons(plan: Plan): [SuppressionReason, number][] {
  const counts = new Map<SuppressionReason, number>();
  for (const s of plan.suppressed) counts.set(s.reason, (counts.get(s.reason) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]);
}
