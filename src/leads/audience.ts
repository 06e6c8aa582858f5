import { and, arrayContains, asc, gt, isNull } from 'drizzle-orm';
import type { Db } from '../db/index.ts';
import { leadMatches, type Filter } from './filter.ts';
import { resolvePersona, type Persona } from './personas.ts';
import { leads } from './schema.ts';
import type { Lead } from './types.ts';

export interface AudienceQuery {
  personas?: string[];
  tags?: string[];
  where?: Filter;
}

export interface Member {
  lead: Lead;
  persona: Persona;
}

/**
 * Streams a campaign's audience in batches, never all of it in memory. Tags narrow in SQL (GIN
 * index); `where` and personas are decided by the same code that decides personas everywhere, so
 * `plan`, runs and previews can never disagree about who is in.
 */
export async function* streamAudience(
  db: Db,
  audience: AudienceQuery,
  personas: readonly Persona[],
  batchSize: number,
): AsyncGenerator<Member[]> {
  let after = 0;
  for (;;) {
    const rows = await db
      .select()
      .from(leads)
      .where(and(gt(leads.id, after), isNull(leads.erasedAt), audience.tags?.length ? arrayContains(leads.tags, audience.tags) : undefined))
      .orderBy(asc(leads.id))
      .limit(batchSize);
    if (rows.length === 0) return;
    after = rows[rows.length - 1]!.id;
    const members: Member[] = [];
    for (const lead of rows) {
      if (audience.where && !leadMatches(lead, audience.where)) continue;
      const persona = resolvePersona(lead, personas);
      if (audience.personas && !audience.personas.includes(persona.id)) continue;
      members.push({ lead, persona });
    }
    if (members.length > 0) yield members;
  }
}
