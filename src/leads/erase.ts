import type pg from 'pg';
import { statement } from '../db/statement.ts';
import { withTransaction } from '../db/tx.ts';
import { AppError } from '../errors.ts';

export interface ErasureReport {
  lead: number;
  messages: number;
  contacts: number;
  events: number;
}

const LOCK_LEAD = statement('leads.lock-for-erasure', `SELECT id FROM leads WHERE external_id = $1 AND erased_at IS NULL FOR UPDATE`);
const EMPTY_LEAD = statement(
  'leads.erase',
  `UPDATE leads SET external_id = 'erased-' || id, email = NULL, phone = NULL, first_name = NULL, last_name = NULL, locale = NULL,
          timezone = NULL, persona = NULL, tags = '{}', attributes = '{}', erased_at = $2, updated_at = $2 WHERE id = $1`,
);
const EMPTY_EVENTS = statement('leads.erase-events', `UPDATE events SET properties = '{}' WHERE lead_id = $1`);
const EMPTY_MESSAGES = statement(
  'leads.erase-messages',
  `UPDATE messages SET to_address = NULL, subject = NULL, body_text = NULL, body_html = NULL, headers = '{}' WHERE lead_id = $1`,
);
const EMPTY_CONTACTS = statement(
  'leads.erase-contacts',
  `UPDATE inbound_contacts SET from_address = 'erased', envelope_from = NULL, to_address = NULL, subject = NULL, text = '', body_text = ''
    WHERE lead_id = $1`,
);
const EMPTY_CONTACT_HISTORY = statement(
  'leads.erase-contact-history',
  `UPDATE inbound_contact_events SET detail = detail - 'text' WHERE contact_id IN (SELECT id FROM inbound_contacts WHERE lead_id = $1)`,
);
const END_ENROLLMENTS = statement(
  'leads.erase-enrollments',
  `UPDATE enrollments SET status = 'exited', exit_reason = 'erased', finished_at = $2 WHERE lead_id = $1 AND status = 'active'`,
);

/**
 * Erases a person's personal data from leads, their events, messages and inbound contacts, in one
 * transaction. The ledger is append-only and never held their address: it keeps the lead id and a
 * keyed hash of the address (`subject_hash`), so the chain still verifies and a later lead with the
 * same address is recognised (see `saveLeads`). Their row stays, emptied, under a new external id,
 * so the ledger's references and the proof of what was sent remain.
 */
export async function eraseLead(pool: pg.Pool, externalId: string, now: Date): Promise<ErasureReport> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ id: number }>(LOCK_LEAD, [externalId]);
    if (!rows[0]) throw new AppError('not_found', `no lead '${externalId}' (or it was erased already)`);
    const id = rows[0].id;
    await client.query(EMPTY_LEAD, [id, now]);
    const events = await client.query(EMPTY_EVENTS, [id]);
    const messages = await client.query(EMPTY_MESSAGES, [id]);
    const contacts = await client.query(EMPTY_CONTACTS, [id]);
    await client.query(EMPTY_CONTACT_HISTORY, [id]);
    await client.query(END_ENROLLMENTS, [id, now]);
    return { lead: id, messages: messages.rowCount ?? 0, contacts: contacts.rowCount ?? 0, events: events.rowCount ?? 0 };
  });
}
