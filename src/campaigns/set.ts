import type { InboundRules } from '../inbound/rules.ts';
import type { Persona } from '../leads/personas.ts';
import type { Problem } from '../yaml/problems.ts';
import type { Campaign } from './types.ts';

/**
 * Everything under the campaigns directory, loaded and checked (load.ts): the campaigns, the
 * personas they address, the service team's queues and rules for replies, and every problem found.
 */
export interface CampaignSet {
  campaigns: Map<string, Campaign>;
  personas: Persona[];
  problems: Problem[];
  /** The file that declares each campaign id, broken campaigns included. */
  files: Map<string, string>;
  /** Queues and qualification rules for replies (inbound.yaml). */
  inbound: InboundRules;
}
