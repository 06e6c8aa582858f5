import type pg from 'pg';
import { appendConsentEvents } from '../consent/ledger.ts';
import { copyIn, copyRow } from '../db/copy.ts';
import { statement, type Queryable } from '../db/statement.ts';
import { inTransaction } from '../db/tx.ts';
import type { Channel } from '../channels/channel.ts';
import { toE164 } from './phone.ts';
import type { Lead } from './types.ts';

/** A lead as it arrives from an import, the API or an event, before it has an id. */
export type LeadInput = Omit<Lead, 'id'>;

/** Someone we know only by an address (an event naming a new person, a reply from a stranger). */
export function leadWithAddress(
  externalId: string,
  address: { email?: string | null; phone?: string | null },
  tags: string[] = [],
): LeadInput {
  const none = { firstName: null, lastName: null, locale: null, timezone: null, persona: null };
  return { externalId, email: address.email ?? null, phone: address.phone ?? null, ...none, tags, attributes: {} };
}

export interface SavedLead {
  id: number;
  externalId: string;
  created: boolean;
  /** Withdrawals carried over from an erased person with the same address (their event ids). */
  carriedFrom: number[];
}

/** A lead row as our types know it; every statement that reads whole leads selects this. */
export const LEAD_COLUMNS = `id, external_id AS "externalId", email, phone, first_name AS "firstName", last_name AS "lastName",
  locale, timezone, persona, tags, attributes`;

const ROWS = `jsonb_to_recordset($1::jsonb) AS r(external_id text, email text, phone text, first_name text, last_name text,
  locale text, timezone text, persona text, tags text[], attributes jsonb)`;

const NAMED_FIELDS = 'external_id, email, phone, first_name, last_name, locale, timezone, persona, tags, attributes';

/** Upserts by external id: a known lead's named fields are replaced and its attributes merged. */
const upsertFrom = (rows: string) =>
  `INSERT INTO leads (${NAMED_FIELDS})
   SELECT ${NAMED_FIELDS} FROM ${rows}
   ON CONFLICT (external_id) DO UPDATE SET email = excluded.email, phone = excluded.phone, first_name = excluded.first_name,
     last_name = excluded.last_name, locale = excluded.locale, timezone = excluded.timezone, persona = excluded.persona,
     tags = excluded.tags, attributes = leads.attributes || excluded.attributes, updated_at = now()
   RETURNING id, external_id, (xmax = 0) AS created`;

const UPSERT = statement('leads.upsert', upsertFrom(ROWS));

const INSERT_NEW = statement(
  'leads.insert-new',
  `INSERT INTO leads (${NAMED_FIELDS})
   SELECT ${NAMED_FIELDS} FROM ${ROWS}
   ON CONFLICT (external_id) DO UPDATE SET updated_at = now()
   RETURNING id, external_id, (xmax = 0) AS created`,
);

/**
 * The bulk form's staging table: one per connection (temporary), emptied at every commit, filled
 * by COPY with the rows of one batch. `row` is the row number in the file the batch came from.
 */
const STAGE_CREATE = statement(
  'leads.stage-create',
  `CREATE TEMPORARY TABLE IF NOT EXISTS lead_stage (row integer NOT NULL, external_id text NOT NULL, email text, phone text,
     first_name text, last_name text, locale text, timezone text, persona text, tags text[] NOT NULL, attributes jsonb NOT NULL)
   ON COMMIT DELETE ROWS`,
);
const STAGE_COPY = statement('leads.stage-copy', `COPY lead_stage (row, ${NAMED_FIELDS}) FROM STDIN`);
const UPSERT_STAGED = statement(
  'leads.upsert-staged',
  `WITH saved AS (${upsertFrom('lead_stage')})
   SELECT count(*)::int AS saved, coalesce(array_agg(id) FILTER (WHERE created), '{}') AS created FROM saved`,
);
const STAGED_ROWS_OF = statement(
  'leads.staged-rows-of-leads',
  `SELECT l.id, s.row FROM lead_stage s JOIN leads l ON l.external_id = s.external_id WHERE l.id = ANY($1::bigint[])`,
);

// Hashing every new lead's addresses is the cost of this rule; while nobody was ever erased (the
// partial index answers that at once) the statement stops before it.
const RETURNING_ADDRESSES = statement(
  'leads.withdrawals-of-erased-with-same-address',
  `WITH subjects AS (
     SELECT l.id AS lead_id, c.channel, consent_subject_hash(CASE c.channel WHEN 'email' THEN l.email ELSE l.phone END) AS subject_hash
       FROM leads l CROSS JOIN (VALUES ('email'), ('sms')) AS c(channel)
      WHERE l.id = ANY($1::bigint[]) AND EXISTS (SELECT 1 FROM leads erased WHERE erased.erased_at IS NOT NULL))
   SELECT DISTINCT ON (s.lead_id, e.channel, e.purpose) s.lead_id, e.channel, e.purpose, e.id AS event_id, e.occurred_at, e.subject_hash, e.action
     FROM subjects s
     JOIN consent_events e ON e.subject_hash = s.subject_hash AND e.channel = s.channel
     JOIN leads old ON old.id = e.lead_id AND old.erased_at IS NOT NULL
    ORDER BY s.lead_id, e.channel, e.purpose, e.occurred_at DESC, e.id DESC`,
);

const BY_EXTERNAL_ID = statement('leads.by-external-id', `SELECT ${LEAD_COLUMNS} FROM leads WHERE external_id = $1`);
const BY_IDS = statement('leads.by-ids', `SELECT ${LEAD_COLUMNS} FROM leads WHERE id = ANY($1::bigint[])`);
const IDS_BY_EXTERNAL_ID = statement('leads.ids-by-external-id', `SELECT id, external_id FROM leads WHERE external_id = ANY($1::text[])`);
const ANY_LEAD = statement('leads.any', `SELECT EXISTS (SELECT 1 FROM leads) AS any`);
// An erased person has no address left; the keyed hash of the address their consent events were
// about (consent_subject_hash, as saveLeads uses it) still finds them by the address they had.
const SEARCH = statement(
  'leads.search',
  `SELECT l.external_id, l.email, l.phone, l.first_name, l.last_name, l.erased_at,
          (SELECT count(*) FROM consent_events e WHERE e.lead_id = l.id)::int AS events
     FROM leads l
    WHERE l.external_id = $1 OR lower(l.email) = lower($1) OR l.phone = $1 OR l.phone = $3 OR l.external_id ILIKE $2 OR l.email ILIKE $2
       OR l.phone LIKE $2 OR l.first_name ILIKE $2 OR l.last_name ILIKE $2 OR (l.first_name || ' ' || l.last_name) ILIKE $2
       OR (l.erased_at IS NOT NULL AND l.id IN (
            SELECT e.lead_id FROM consent_events e WHERE e.subject_hash IN (consent_subject_hash($1), consent_subject_hash($3))))
    ORDER BY l.external_id LIMIT $4 OFFSET $5`,
);

/**
 * The one way leads come to exist: CSV and JSON imports, the API, events naming someone new and
 * replies from unknown senders all save through here. By external id, in one statement: with
 * `existing: 'update'` (imports, the API) a known lead's fields are replaced and its attributes
 * merged; with `'keep'` (events, replies) a known lead is left as it is. Every lead this creates
 * inherits the withdrawals of an erased person with the same address, in the same transaction,
 * so an imported old grant can never revive what the person withdrew.
 */
export async function saveLeads(
  db: pg.Pool | pg.PoolClient,
  rows: LeadInput[],
  options: { existing?: 'update' | 'keep' } = {},
): Promise<SavedLead[]> {
  if (rows.length === 0) return [];
  // One statement cannot touch a row twice: of repeated external ids the last one wins, with
  // attributes merged as they would be over two separate upserts.
  const byId = new Map<string, LeadInput>();
  for (const row of rows) {
    const earlier = byId.get(row.externalId);
    byId.set(row.externalId, earlier ? { ...row, attributes: { ...earlier.attributes, ...row.attributes } } : row);
  }
  const unique = [...byId.values()].map((l) => ({
    external_id: l.externalId,
    email: l.email,
    phone: l.phone,
    first_name: l.firstName,
    last_name: l.lastName,
    locale: l.locale,
    timezone: l.timezone,
    persona: l.persona,
    tags: l.tags,
    attributes: l.attributes,
  }));
  return inTransaction(db, async (client) => {
    const { rows: saved } = await client.query<{ id: number; external_id: string; created: boolean }>(
      options.existing === 'keep' ? INSERT_NEW : UPSERT,
      [JSON.stringify(unique)],
    );
    const carried = await carryOverWithdrawals(
      client,
      saved.filter((r) => r.created).map((r) => r.id),
    );
    const byExternalId = new Map(saved.map((r) => [r.external_id, r]));
    return [...byId.keys()].map((externalId) => {
      const r = byExternalId.get(externalId)!;
      return { id: r.id, externalId, created: r.created, carriedFrom: carried.get(r.id) ?? [] };
    });
  });
}

/** What the bulk form of saveLeads did with one staged batch. */
export interface StagedSave {
  saved: number;
  created: number;
  /** Withdrawals carried over from erased people, by the row of the staged lead they now belong to. */
  carried: { row: number; events: number[] }[];
}

/** A lead as one COPY row of the staging table; `row` is its row number in the file. */
export function stagedRow(row: number, l: LeadInput): string {
  return copyRow([
    row,
    l.externalId,
    l.email,
    l.phone,
    l.firstName,
    l.lastName,
    l.locale,
    l.timezone,
    l.persona,
    l.tags,
    JSON.stringify(l.attributes),
  ]);
}

/**
 * A batch of leads on its way into the bulk form of saveLeads, as COPY rows (stagedRow) in a
 * buffer that is filled again for a later batch once this one is saved (clear): a batch lives
 * across a few awaits, and as strings it would outlive the young generation and pile up as old
 * garbage, a third of an import's peak memory.
 */
export class LeadStage {
  private buffer = Buffer.allocUnsafe(4 << 20);
  private length = 0;
  private count = 0;
  /**
   * The external ids of the batch as 32-bit hashes (open addressing, 0 = free), for the same
   * reason: a Set of strings would keep every id alive as long as the batch. Two ids with the
   * same hash only close a batch early.
   */
  private hashes = new Uint32Array(1 << 10);

  get size(): number {
    return this.count;
  }

  /** Whether the batch may hold this external id already: one statement cannot write a lead twice. */
  has(externalId: string): boolean {
    const h = hashOf(externalId);
    for (let i = h & (this.hashes.length - 1); this.hashes[i] !== 0; i = (i + 1) & (this.hashes.length - 1)) {
      if (this.hashes[i] === h) return true;
    }
    return false;
  }

  add(externalId: string, stagedRow: string): void {
    const bytes = Buffer.byteLength(stagedRow);
    if (this.length + bytes > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
      this.buffer.copy(bigger, 0, 0, this.length);
      this.buffer = bigger;
    }
    this.length += this.buffer.write(stagedRow, this.length);
    if (++this.count * 2 > this.hashes.length) this.rehash();
    this.insert(hashOf(externalId));
  }

  private insert(h: number): void {
    let i = h & (this.hashes.length - 1);
    while (this.hashes[i] !== 0 && this.hashes[i] !== h) i = (i + 1) & (this.hashes.length - 1);
    this.hashes[i] = h;
  }

  private rehash(): void {
    const old = this.hashes;
    this.hashes = new Uint32Array(old.length * 2);
    for (const h of old) if (h !== 0) this.insert(h);
  }

  /** The COPY data; valid until clear. */
  data(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  clear(): void {
    this.length = 0;
    this.count = 0;
    this.hashes.fill(0);
  }
}

/** FNV-1a over the UTF-16 code units, never 0 (the free slot). */
function hashOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0 || 1;
}

/** Prepares the connection of a bulk save (withSession) for staged batches. */
export async function prepareLeadStage(client: pg.PoolClient): Promise<void> {
  await client.query(STAGE_CREATE);
}

/**
 * The bulk form of saveLeads, for imports of millions of rows: one batch of leads with distinct
 * external ids, sent by COPY and saved by the same upsert and the same carry-over of an erased
 * person's withdrawals, inside the caller's transaction on a prepared connection.
 */
export async function saveStagedLeads(client: pg.PoolClient, stage: LeadStage): Promise<StagedSave> {
  await copyIn(client, STAGE_COPY, stage.data());
  const { rows } = await client.query<{ saved: number; created: number[] }>(UPSERT_STAGED);
  const { saved, created } = rows[0]!;
  const carried = await carryOverWithdrawals(client, created);
  const rowsOf = carried.size > 0 ? (await client.query<{ id: number; row: number }>(STAGED_ROWS_OF, [[...carried.keys()]])).rows : [];
  return { saved, created: created.length, carried: rowsOf.map((r) => ({ row: r.row, events: carried.get(r.id)! })) };
}

/**
 * When an erased person with the same address had withdrawn consent, the withdrawal carries over
 * to the new lead, dated as it happened (a newer, real grant still counts).
 */
async function carryOverWithdrawals(client: pg.PoolClient, leadIds: number[]): Promise<Map<number, number[]>> {
  const carried = new Map<number, number[]>();
  if (leadIds.length === 0) return carried;
  const { rows } = await client.query<{
    lead_id: number;
    channel: Channel;
    purpose: string;
    event_id: number;
    occurred_at: Date;
    subject_hash: string;
    action: string;
  }>(RETURNING_ADDRESSES, [leadIds]);
  const withdrawn = rows.filter((r) => r.action === 'withdraw');
  await appendConsentEvents(
    client,
    withdrawn.map((r) => ({
      leadId: r.lead_id,
      channel: r.channel,
      purpose: r.purpose,
      action: 'withdraw' as const,
      source: 'carried-from-erased',
      evidence: { from_event: r.event_id },
      actor: 'system',
      occurredAt: r.occurred_at,
      subjectHash: r.subject_hash,
    })),
  );
  for (const r of withdrawn) carried.set(r.lead_id, [...(carried.get(r.lead_id) ?? []), r.event_id]);
  return carried;
}

export async function findLeadByExternalId(db: Queryable, externalId: string): Promise<Lead | undefined> {
  const { rows } = await db.query<Lead>(BY_EXTERNAL_ID, [externalId]);
  return rows[0];
}

/** The leads with these ids, by id. */
export async function leadsByIds(db: Queryable, ids: number[]): Promise<Map<number, Lead>> {
  const { rows } = await db.query<Lead>(BY_IDS, [[...new Set(ids)]]);
  return new Map(rows.map((l) => [l.id, l]));
}

export async function leadIdsByExternalId(db: Queryable, externalIds: string[]): Promise<Map<string, number>> {
  if (externalIds.length === 0) return new Map();
  const { rows } = await db.query<{ id: number; external_id: string }>(IDS_BY_EXTERNAL_ID, [externalIds]);
  return new Map(rows.map((r) => [r.external_id, r.id]));
}

export async function hasLeads(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ any: boolean }>(ANY_LEAD);
  return rows[0]!.any;
}

export interface LeadMatch {
  external_id: string;
  email: string | null;
  phone: string | null;
  first_name: string | null;
  last_name: string | null;
  erased_at: Date | null;
  /** Consent events on record for this person. */
  events: number;
}

/**
 * People whose external id, email, phone or name contains the text ("schmidt", "@example.org",
 * "1234567"), whose phone is the text written nationally (read in `phoneRegion`), and erased people
 * whose email or phone was the text; by external id, one page (`limit`, at most 50 by default) from
 * `offset`. Every way scans the leads (a prefix match could not use an index either: ILIKE).
 */
export async function searchLeads(
  db: Queryable,
  text: string,
  phoneRegion?: string,
  page: { limit: number; offset: number } = { limit: 50, offset: 0 },
): Promise<LeadMatch[]> {
  const { rows } = await db.query<LeadMatch>(SEARCH, [
    text,
    `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`,
    toE164(text, phoneRegion) ?? null,
    page.limit,
    page.offset,
  ]);
  return rows;
}
