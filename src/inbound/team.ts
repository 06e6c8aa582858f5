import { statement, type Queryable } from '../db/statement.ts';

/** A queue member as their queue lead sees them: whether they take new contacts, and their open load. */
export interface Member {
  email: string;
  name: string | null;
  /** Away people get no new contacts (assign.ts); null: no such active user (they get none either). */
  available: boolean | null;
  /** Contacts assigned to them and not closed. */
  open: number;
}

const MEMBERS = statement(
  'inbound.team-members',
  `SELECT m.email, u.name, CASE WHEN u.id IS NULL THEN NULL ELSE u.available END AS available,
          (SELECT count(*)::int FROM inbound_contacts c WHERE c.assignee_id = u.id AND c.status IN ('assigned', 'accepted')) AS open
     FROM unnest($1::text[]) WITH ORDINALITY AS m(email, n)
     LEFT JOIN users u ON u.email = m.email AND u.disabled_at IS NULL AND u.role IN ('service', 'admin')
    ORDER BY m.n`,
);

/** The members of a queue (their logins in inbound.yaml), in that order. */
export async function queueMembers(db: Queryable, emails: string[]): Promise<Member[]> {
  const { rows } = await db.query<Member>(MEMBERS, [emails]);
  return rows;
}
