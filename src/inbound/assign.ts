import type pg from 'pg';
import { LOCKS, lockForTransaction } from '../db/locks.ts';
import { statement } from '../db/statement.ts';
import type { Queue } from './rules.ts';

export interface Assignee {
  id: number;
  email: string;
}

const LEAST_LOADED = statement(
  'inbound.least-loaded-member',
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
);

/**
 * Push assignment: the available member of the queue who speaks the contact's language (any
 * member when the language is unknown; a member who lists no languages takes any) and has the
 * fewest open contacts, ties by id. Serialised per queue, so two replies arriving together never
 * both land on one person because each read the other's count stale.
 */
export async function pickAssignee(
  client: pg.PoolClient,
  queue: Queue,
  language: string | null,
  exclude?: number,
): Promise<Assignee | undefined> {
  if (queue.members.length === 0) return undefined;
  await lockForTransaction(client, LOCKS.assignQueue, queue.id);
  const { rows } = await client.query<Assignee>(LEAST_LOADED, [queue.members, language, exclude ?? null]);
  return rows[0];
}
