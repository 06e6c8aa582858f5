import { statement, type Queryable } from '../db/statement.ts';
import { AppError } from '../errors.ts';
import type { Actor } from './contacts.ts';
import { NOTE_ACTION, recordContactEvent } from './history.ts';

const ERASED = statement(
  'inbound.contact-erased',
  `SELECT l.erased_at FROM inbound_contacts c LEFT JOIN leads l ON l.id = c.lead_id WHERE c.id = $1`,
);

/** The longest note; a note is a remark for colleagues, not a document. */
export const NOTE_MAX = 5_000;

/**
 * Adds an internal note to a contact, open or closed: for the team only, shown on the contact
 * and never part of anything sent to the person. Nothing is written about a person whose data
 * was erased.
 */
export async function addNote(db: Queryable, id: number, text: string, actor: Actor, now: Date): Promise<void> {
  const { rows } = await db.query<{ erased_at: Date | null }>(ERASED, [id]);
  if (!rows[0]) throw new AppError('not_found', `no inbound contact ${id}`);
  if (rows[0].erased_at)
    throw new AppError('conflict', `contact ${id} is of a person whose data was erased; nothing more is noted about them`);
  await recordContactEvent(db, id, NOTE_ACTION, actor.label, { text }, now);
}
