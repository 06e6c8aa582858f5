import type pg from 'pg';
import { findActiveUser } from '../access/users.ts';
import { LOCKS, lockForTransaction } from '../db/locks.ts';
import { statement } from '../db/statement.ts';
import type { Queue } from './rules.ts';

export interface Assignee {
  id: number;
  email: string;
}

/** What the person a contact goes to must bring: the person's language (null: unknown) and the skills its rule requires. */
export interface Needs {
  language: string | null;
  skills: readonly string[];
}

/** Who gets a contact, and why it is not the usual choice when it is not (recorded in the contact's history). */
export interface Assignment {
  assignee: Assignee | undefined;
  reason?: string;
}

const AVAILABLE = `u.available AND u.disabled_at IS NULL AND u.role IN ('service', 'admin')`;

const LEAST_LOADED = statement(
  'inbound.least-loaded-member',
  `SELECT u.id, u.email
     FROM users u
     LEFT JOIN LATERAL (
       SELECT count(*) AS open FROM inbound_contacts c WHERE c.assignee_id = u.id AND c.status IN ('assigned', 'accepted')
     ) load ON true
    WHERE u.email = ANY($1::text[]) AND ${AVAILABLE}
      AND ($2::text IS NULL OR $2 = ANY(u.languages) OR cardinality(u.languages) = 0)
      AND ($3::bigint IS NULL OR u.id <> $3)
    ORDER BY load.open, u.id
    LIMIT 1`,
);
const AVAILABLE_MEMBER = statement(
  'inbound.available-member',
  `SELECT u.id, u.email FROM users u WHERE u.id = $1 AND u.email = ANY($2::text[]) AND ${AVAILABLE}`,
);

/**
 * Push assignment: the available member of the queue who has every skill the contact needs and
 * speaks the person's language (any member when the language is unknown; a member who lists no
 * languages takes any), with the fewest open contacts, ties by id. Serialised per queue, so two
 * replies arriving together never both land on one person because each read the other's count stale.
 */
export async function pickAssignee(client: pg.PoolClient, queue: Queue, needs: Needs, exclude?: number): Promise<Assignee | undefined> {
  const able = queue.members.filter((m) => needs.skills.every((s) => queue.skills[m]?.includes(s)));
  if (able.length === 0) return undefined;
  await lockForTransaction(client, LOCKS.assignQueue, queue.id);
  const { rows } = await client.query<Assignee>(LEAST_LOADED, [able, needs.language, exclude ?? null]);
  return rows[0];
}

/**
 * Who a new or reopened contact goes to: the `preferred` person first (who handled the person's
 * matter before) while they are an available member of the queue; else the member `pickAssignee`
 * finds; else, when nobody fits, the queue's lead, with the reason recorded. Without a lead who
 * can take it, it waits in the queue, with the reason too.
 */
export async function assignFor(client: pg.PoolClient, queue: Queue, needs: Needs, preferred?: number | null): Promise<Assignment> {
  if (preferred) {
    const { rows } = await client.query<Assignee>(AVAILABLE_MEMBER, [preferred, queue.members]);
    if (rows[0]) return { assignee: rows[0] };
  }
  const member = await pickAssignee(client, queue, needs);
  if (member) return { assignee: member };
  const wants = [
    needs.language ? `speaks '${needs.language}'` : null,
    needs.skills.length ? `has the skill${needs.skills.length > 1 ? 's' : ''} ${needs.skills.map((s) => `'${s}'`).join(', ')}` : null,
  ].filter(Boolean);
  const nobody = `no available member of queue '${queue.id}'${wants.length ? ` ${wants.join(' and ')}` : ''}`;
  const lead = queue.lead ? await findActiveUser(client, queue.lead, ['service', 'admin']) : undefined;
  if (lead) return { assignee: { id: lead.id, email: lead.email }, reason: `${nobody}: the queue lead takes it` };
  return { assignee: undefined, reason: `${nobody}, and no active queue lead: it waits in the queue` };
}
