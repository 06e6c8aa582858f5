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

const LAST_ID = statement('leads.last-id', `SELECT coalesce(max(id), 0) AS id FROM leads`);
const WINDOW = statement(
  'leads.audience-window',
  `SELECT ${LEAD_COLUMNS} FROM leads
    WHERE id > $1 AND id <= $2 AND erased_at IS NULL AND ($3::text[] IS NULL OR tags @> $3::text[])
    ORDER BY id LIMIT $4`,
);

/** How many ids one query of the walk looks at, in batches: a sparse audience still comes in few queries. */
const WINDOW_BATCHES = 16;

/**
 * Streams a campaign's audience in batches, never all of it in memory. The walk goes along the
 * primary key in windows of ids, each query bounded to its window and filtered there (tags in SQL,
 * `where` and personas by the same code that decides personas everywhere, so `plan`, runs and
 * previews can never disagree about who is in). Whatever plan the database picks for a window, it
 * reads at most that window: the whole walk reads each lead once, so its cost is linear in the
 * table by construction. (Keyset pages over `tags @> …` ordered by id let the planner choose a
 * scan of every tagged lead and a sort per page: quadratic, as it did on a freshly imported table.)
 * Leads created during the walk are included up to its end.
 */
export async function* streamAudience(
  db: Queryable,
  audience: AudienceQuery,
  personas: readonly Persona[],
  batchSize: number,
): AsyncGenerator<Member[]> {
  const lastId = async () => (await db.query<{ id: number }>(LAST_ID)).rows[0]!.id;
  const tags = audience.tags?.length ? audience.tags : null;
  let after = 0;
  let last = await lastId();
  for (;;) {
    if (after >= last) {
      last = await lastId();
      if (after >= last) return;
    }
    const end = after + batchSize * WINDOW_BATCHES;
    const { rows } = await db.query<Lead>(WINDOW, [after, end, tags, batchSize]);
    // A full batch may end inside the window: the next one starts after its last lead.
    after = rows.length === batchSize ? rows[rows.length - 1]!.id : end;
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
