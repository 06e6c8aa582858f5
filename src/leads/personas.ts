import type { Channel } from '../channels/channel.ts';
import { leadMatches, type Filter } from './filter.ts';
import type { Lead } from './types.ts';

/** A persona from `campaigns/personas.yaml`; keys beyond id/match reach templates as `persona.<key>`. */
export interface Persona {
  id: string;
  match?: Filter;
  preferred_channel?: Channel;
  [key: string]: unknown;
}

/** The id of the persona a lead gets when nothing matches and no catch-all persona exists. */
export const DEFAULT_PERSONA = 'default';

/** Explicit persona wins; else the first persona whose match fits; a persona without match catches all. */
export function resolvePersona(lead: Lead, personas: readonly Persona[]): Persona {
  if (lead.persona) return personas.find((p) => p.id === lead.persona) ?? { id: lead.persona };
  return personas.find((p) => !p.match || leadMatches(lead, p.match)) ?? { id: DEFAULT_PERSONA };
}
