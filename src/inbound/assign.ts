import type pg from 'pg';
import type { Queue } from './rules.ts';

/** Namespace of the transaction locks that serialise assignment within one queue. */
const ASSIGN_LOCK_NAMESPACE = 7_245_004;

export interface Assignee {
  id: number;
  email: string;
}

/**
 * Push assignment: the available member of the queue who speaks the contact's language (any
 * member when the language is unknown; a member who lists no languages takes any) and has the
 * fewest open contacts, ties by id. Serialised per queue, so two replies arriving together never
 * both land on one person because each read the other's count stale.
 */
export async function pickAssignee(client: pg.PoolClient, queue: Queue, language: string | null, exclude?: number): Promise<Assignee | undefined> {
  if (queue.members.length === 0) return undefined;
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ASSIGN_LOCK_NAMESPACE, queue.id]);
  const { rows } = await client.query<Assignee>(
    `SELECT u.id, u.email
       FROM users u
       LEFT JOIN LATERAL (
         SELECT count(*) AS open FROM inbound_contacts c WHERE c.assignee_id = u.id AND c.status IN ('assigned', 'accepted')
       ) load ON true
      WHERE u.email = ANY($1::text[]) AND u.available AND u.disabled_at IS NULL AND u.role IN ('service', 'admin')
        AND ($2::text IS NULL OR $2 = ANY(u.languages) OR cardinality(u.languages) = 0)
        AND ($3::bigint IS NULL OR u.id <> $3)
      ORDER BY load.open, u.id
      LIMIT 1`,
    [queue.members, language, exclude ?? null],
  );
  return rows[0] ? { id: Number(rows[0].id), email: rows[0].email } : undefined;
}
