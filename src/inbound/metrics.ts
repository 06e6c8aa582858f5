import type { Channel } from '../channels/channel.ts';
import { statement, type Queryable } from '../db/statement.ts';
import { counter } from '../metrics.ts';
import type { ContactCategory } from './schema.ts';

/** What /metrics says about replies: contacts counted as they arrive, overdue ones read when scraped. */
const received = counter(
  'touchpoint_inbound_contacts_total',
  'Inbound contacts recorded, by channel, kind (human, auto-reply, bounce) and category.',
  ['channel', 'kind', 'category'],
);

export function countContact(contact: { channel: Channel; kind: string; category: ContactCategory }): void {
  received.inc(contact);
}

const complaints = counter(
  'touchpoint_spam_complaints_total',
  'Abuse reports (RFC 5965) from feedback loops, by result: recorded, duplicate, not-ours, not-abuse.',
  ['result'],
);

/** Counted once its transaction committed, like a contact. */
export function countComplaint(result: string): void {
  complaints.inc({ result });
}

const OVERDUE = statement(
  'inbound.overdue-gauges',
  `SELECT coalesce(queue, '') AS queue, count(*) AS n FROM inbound_contacts
    WHERE status IN ('new', 'assigned') AND due_at <= $1 GROUP BY 1 ORDER BY 1`,
);

/**
 * Contacts nobody accepted before their due time, by queue, escalated or not. Only open contacts
 * are read (the partial indexes on open and on unescalated contacts), never the closed history.
 */
export async function overdueContacts(db: Queryable, now: Date): Promise<{ queue: string; n: number }[]> {
  const { rows } = await db.query<{ queue: string; n: number }>(OVERDUE, [now]);
  return rows;
}
