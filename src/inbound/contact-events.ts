import type pg from 'pg';
import { statement } from '../db/statement.ts';
import type { EmitEvents } from '../leads/events.ts';
import type { ContactEventName } from './event-names.ts';

const LEAD_EXTERNAL_ID = statement('inbound.lead-external-id', `SELECT external_id FROM leads WHERE id = $1 AND erased_at IS NULL`);
/** What `contact_closed` says of a contact, read after its close was recorded (so `closes` counts this one). */
const CLOSING = statement(
  'inbound.closing-facts',
  `SELECT c.lead_id, c.queue, c.category, u.email AS handled_by,
          (SELECT count(*) FROM inbound_contact_events e WHERE e.contact_id = c.id AND e.action = 'closed') AS closes,
          round(extract(epoch FROM (SELECT min(e.at) FROM inbound_contact_events e WHERE e.contact_id = c.id AND e.action = 'replied')
                - c.received_at) / 60)::int AS first_response_minutes
     FROM inbound_contacts c LEFT JOIN users u ON u.id = c.assignee_id WHERE c.id = $1`,
);

/**
 * Emits one of the contact events (event-names.ts) for the contact's person, in the caller's
 * transaction. `key` makes it once-only: the same change emitted again (a retried delivery) is
 * recorded once. A contact of nobody we know, or of an erased person, emits nothing.
 */
export async function emitContactEvent(
  client: pg.PoolClient,
  emit: EmitEvents,
  event: { leadId: number | null; name: ContactEventName; key: string; properties: Record<string, unknown>; at: Date },
): Promise<void> {
  if (event.leadId === null) return;
  const { rows } = await client.query<{ external_id: string }>(LEAD_EXTERNAL_ID, [event.leadId]);
  if (!rows[0]) return;
  await emit(client, [
    { id: event.key, lead: rows[0].external_id, event: event.name, properties: event.properties, occurred_at: event.at.toISOString() },
  ]);
}

/** A sales opportunity the agent saw while closing: what it is about, and which product. */
export interface SalesOpportunity {
  note: string;
  product?: string;
}

/**
 * `contact_closed` for a close just recorded, and `sales_opportunity` when the agent flagged one.
 * The n-th close of a contact (after a reopen) is its own event: `contact:<id>:closed:<n>`.
 */
export async function emitClosed(
  client: pg.PoolClient,
  emit: EmitEvents,
  contactId: number,
  resolution: string,
  sales: SalesOpportunity | undefined,
  at: Date,
): Promise<void> {
  const { rows } = await client.query<{
    lead_id: number | null;
    queue: string | null;
    category: string;
    handled_by: string | null;
    closes: number;
    first_response_minutes: number | null;
  }>(CLOSING, [contactId]);
  const c = rows[0]!;
  const base = { leadId: c.lead_id, at };
  await emitContactEvent(client, emit, {
    ...base,
    name: 'contact_closed',
    key: `contact:${contactId}:closed:${c.closes}`,
    properties: {
      contact: contactId,
      queue: c.queue,
      category: c.category,
      resolution,
      handled_by: c.handled_by,
      first_response_minutes: c.first_response_minutes,
    },
  });
  if (!sales) return;
  await emitContactEvent(client, emit, {
    ...base,
    name: 'sales_opportunity',
    key: `contact:${contactId}:sales:${c.closes}`,
    properties: { contact: contactId, note: sales.note, product: sales.product ?? null, queue: c.queue, handled_by: c.handled_by },
  });
}
