import Joi from 'joi';
import type pg from 'pg';
import { statement, type Queryable } from '../db/statement.ts';
import { leadIdsByExternalId, leadWithAddress, saveLeads } from './store.ts';

/** An event as the API and CLI accept it (validated at the edge by `eventInputSchema`). */
export interface EventInput {
  /** The sender's id for the event; the same id twice is recorded once. */
  id?: string;
  lead: string;
  event: string;
  properties: Record<string, unknown>;
  occurred_at?: string;
  /** Contact data that lets an event create a lead we do not know yet. */
  email?: string;
  phone?: string;
}

export const EVENT_LIMITS = { batch: 1000, nameLength: 100, properties: 100 } as const;

/** What an event name looks like: lowercase letters, digits, `_ . -`, starting with a letter. */
export const EVENT_NAME = /^[a-z][a-z0-9_.-]*$/;

export const eventInputSchema = Joi.object<EventInput>({
  id: Joi.string().trim().min(1).max(200),
  lead: Joi.string().trim().min(1).max(200).required(),
  event: Joi.string()
    .trim()
    .pattern(EVENT_NAME)
    .max(EVENT_LIMITS.nameLength)
    .required()
    .messages({ 'string.pattern.base': "event '{#value}' must be lowercase (letters, digits, _ . -), like order_placed" }),
  properties: Joi.object().max(EVENT_LIMITS.properties).default({}),
  occurred_at: Joi.string().isoDate(),
  email: Joi.string().email({ tlds: false }).lowercase(),
  phone: Joi.string().pattern(/^\+?[0-9][0-9 ()./-]{4,24}$/),
}).prefs({ errors: { wrap: { label: false } } });

/**
 * Records events in the caller's transaction and starts what they trigger (sequences/triggers.ts):
 * how other domains (inbound contacts) emit events into the customers' stream.
 */
export type EmitEvents = (client: pg.PoolClient, inputs: EventInput[]) => Promise<unknown>;

export interface StoredEvent {
  id: number;
  leadId: number;
  name: string;
  properties: Record<string, unknown>;
  occurredAt: Date;
}

const NEXT_IDS = statement('leads.next-event-ids', `SELECT nextval('events_id_seq') AS id FROM generate_series(1, $1::int)`);
const INSERT = statement(
  'leads.insert-events',
  `INSERT INTO events (id, event_key, lead_id, name, properties, occurred_at)
   SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::jsonb[], $6::timestamptz[])
   ON CONFLICT (event_key) DO NOTHING RETURNING id`,
);

const PROPERTIES = statement('leads.event-properties', `SELECT id, properties FROM events WHERE id = ANY($1::bigint[])`);

/** The properties of these events, by id (what `event.*` means in the templates of the sequences they started). */
export async function eventProperties(db: Queryable, ids: number[]): Promise<Map<number, Record<string, unknown>>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<{ id: number; properties: Record<string, unknown> }>(PROPERTIES, [ids]);
  return new Map(rows.map((r) => [r.id, r.properties]));
}

export interface RecordResult {
  /** Events recorded now (not seen before), in input order. */
  recorded: (StoredEvent & { index: number })[];
  /** The inputs (by index) whose id was recorded before. */
  duplicates: number[];
  rejected: { index: number; reason: string }[];
}

/**
 * Stores events on their leads in the caller's transaction. A lead we do not know is created when
 * the event carries an email or phone; otherwise that event is rejected with the reason. Events
 * whose id was seen before are counted as duplicates and not stored again.
 */
export async function recordEvents(client: pg.PoolClient, inputs: EventInput[], now: Date): Promise<RecordResult> {
  const result: RecordResult = { recorded: [], duplicates: [], rejected: [] };
  const ids = await leadIdsByExternalId(client, [...new Set(inputs.map((i) => i.lead))]);
  const creatable = inputs.filter((i) => !ids.has(i.lead) && (i.email || i.phone));
  const created = await saveLeads(
    client,
    creatable.map((i) => leadWithAddress(i.lead, i)),
    { existing: 'keep' },
  );
  for (const c of created) ids.set(c.externalId, c.id);

  const accepted: { index: number; input: EventInput; leadId: number }[] = [];
  inputs.forEach((input, index) => {
    const leadId = ids.get(input.lead);
    if (leadId === undefined) {
      result.rejected.push({ index, reason: `unknown lead '${input.lead}', and the event carries no email or phone to create it` });
    } else accepted.push({ index, input, leadId });
  });
  if (accepted.length === 0) return result;

  // Ids are drawn first so that the rows RETURNING reports can be matched to their inputs.
  const { rows: seq } = await client.query<{ id: number }>(NEXT_IDS, [accepted.length]);
  const { rows } = await client.query<{ id: number }>(INSERT, [
    seq.map((s) => s.id),
    accepted.map((a) => a.input.id ?? null),
    accepted.map((a) => a.leadId),
    accepted.map((a) => a.input.event),
    accepted.map((a) => JSON.stringify(a.input.properties)),
    accepted.map((a) => (a.input.occurred_at ? new Date(a.input.occurred_at) : now)),
  ]);
  const inserted = new Set(rows.map((r) => r.id));
  accepted.forEach((a, i) => {
    const id = seq[i]!.id;
    if (!inserted.has(id)) {
      result.duplicates.push(a.index);
      return;
    }
    result.recorded.push({
      index: a.index,
      id,
      leadId: a.leadId,
      name: a.input.event,
      properties: a.input.properties,
      occurredAt: a.input.occurred_at ? new Date(a.input.occurred_at) : now,
    });
  });
  return result;
}
