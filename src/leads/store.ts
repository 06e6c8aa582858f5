import { eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/index.ts';
import { leads } from './schema.ts';
import type { Lead } from './types.ts';

/** A lead as it arrives from an import or the API, before it has an id. */
export type LeadInput = Omit<Lead, 'id'>;

export interface UpsertResult {
  id: number;
  externalId: string;
  created: boolean;
}

/**
 * Creates or updates leads by external id in one statement. Attributes merge (an import of some
 * columns does not erase the others); tags and the named fields are replaced.
 */
export async function upsertLeads(db: Db, rows: LeadInput[]): Promise<UpsertResult[]> {
  if (rows.length === 0) return [];
  // One statement cannot touch a row twice: of repeated external ids the last one wins, with
  // attributes merged as they would be over two separate upserts.
  const byId = new Map<string, LeadInput>();
  for (const row of rows) {
    const earlier = byId.get(row.externalId);
    byId.set(row.externalId, earlier ? { ...row, attributes: { ...earlier.attributes, ...row.attributes } } : row);
  }
  const unique = [...byId.values()];
  const result = await db
    .insert(leads)
    .values(unique)
    .onConflictDoUpdate({
      target: leads.externalId,
      set: {
        email: sql`excluded.email`,
        phone: sql`excluded.phone`,
        firstName: sql`excluded.first_name`,
        lastName: sql`excluded.last_name`,
        locale: sql`excluded.locale`,
        timezone: sql`excluded.timezone`,
        persona: sql`excluded.persona`,
        tags: sql`excluded.tags`,
        attributes: sql`${leads.attributes} || excluded.attributes`,
        updatedAt: sql`now()`,
      },
    })
    .returning({ id: leads.id, externalId: leads.externalId, created: sql<boolean>`xmax = 0` });
  return result;
}

export async function findLeadByExternalId(db: Db, externalId: string): Promise<Lead | undefined> {
  const [row] = await db.select().from(leads).where(eq(leads.externalId, externalId));
  return row;
}

export async function leadIdsByExternalId(db: Db, externalIds: string[]): Promise<Map<string, number>> {
  if (externalIds.length === 0) return new Map();
  const rows = await db.select({ id: leads.id, externalId: leads.externalId }).from(leads).where(inArray(leads.externalId, externalIds));
  return new Map(rows.map((r) => [r.externalId, r.id]));
}
