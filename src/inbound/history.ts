import { statement, type Queryable } from '../db/statement.ts';

const APPEND = statement(
  'inbound.append-contact-event',
  `INSERT INTO inbound_contact_events (contact_id, action, actor, detail, at) VALUES ($1, $2, $3, $4, $5)`,
);

/**
 * The action of an internal note in a contact's history: kept there so that it has who and when
 * like every other entry, and erasure drops its text with every other detail key not kept.
 */
export const NOTE_ACTION = 'note';

/** Appends to a contact's own history: who did what to it, and when. */
export async function recordContactEvent(
  db: Queryable,
  contactId: number,
  action: string,
  actor: string,
  detail: Record<string, unknown>,
  at: Date,
): Promise<void> {
  await db.query(APPEND, [contactId, action, actor, JSON.stringify(detail), at]);
}

/**
 * Detail keys that hold ids, codes and staff names, never what the person wrote or what was written
 * about them. Erasure keeps these and drops every other key (reply text, close notes, whatever is
 * added later), and a close note becomes `erased`.
 */
export const DETAIL_KEYS_KEPT_ON_ERASURE = [
  'identified_by',
  'kind',
  'category',
  'rule',
  'channel',
  'purpose',
  'to',
  'queue',
  'message_id',
  'contact_message',
  'due_at',
  'repeat_of',
  // Why assignment chose whom it did: queue, language and skill names, never the person's words.
  'reason',
];
