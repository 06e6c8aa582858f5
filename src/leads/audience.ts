import { statement, type Queryable } from '../db/statement.ts';
import { leadMatches, type Filter } from './filter.ts';
import { resolvePersona, type Persona } from './personas.ts';
import { LEAD_COLUMNS } from './store.ts';
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

const PAGE = statement('leads.audience-page', `SELECT ${LEAD_COLUMNS} FROM leads WHERE id > $1 AND erased_at IS NULL ORDER BY id LIMIT $2`);
const PAGE_TAGGED = statement(
  'leads.audience-page-tagged',
  `SELECT ${LEAD_COLUMNS} FROM leads WHERE id > $1 AND erased_at IS NULL AND tags @> $3::text[] ORDER BY id LIMIT $2`,
);

/**
 * Streams a campaign's audience in batches, never all of it in memory. Tags narrow in SQL (GIN
 * index); `where` and personas are decided by the same code that decides personas everywhere, so
 * `plan`, runs and previews can never disagree about who is in.
 */
export async function* streamAudience(
  db: Queryable,
  audience: AudienceQuery,
  personas: readonly Persona[],
  batchSize: number,
): AsyncGenerator<Member[]> {
  let after = 0;
  for (;;) {
    const { rows } = audience.tags?.length
      ? await db.query<Lead>(PAGE_TAGGED, [after, batchSize, audience.tags])
      : await db.query<Lead>(PAGE, [after, batchSize]);
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
