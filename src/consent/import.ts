import crypto from 'node:crypto';
import path from 'node:path';
import Joi from 'joi';
import type pg from 'pg';
import type { Channel } from '../channels/channel.ts';
import { assertReadable, countLines, csvRows } from '../csv.ts';
import { statement } from '../db/statement.ts';
import { AppError } from '../errors.ts';
import { SaveBehind } from '../save-behind.ts';
import { transactionOn, withSession } from '../db/tx.ts';
import { appendConsentEventsInBulk, type ConsentEventInput } from './ledger.ts';
import { noticeFor, type NoticeStore } from './notices.ts';
import { SealBatch, type UnplacedEvent } from './seal.ts';

export interface ConsentImportReport {
  imported: number;
  rejected: { row: number; reason: string }[];
}

/** What is wrong with an occurred_at value, as a joi message template; undefined when nothing is. */
function instantProblem(value: string): string | undefined {
  if (Number.isNaN(Date.parse(value)) || !/^\d{4}-\d{2}-\d{2}T/.test(value)) return `{#label} '${value}' is not an ISO 8601 instant`;
  // Without an offset the instant would depend on the importing machine's timezone.
  if (!/(Z|[+-]\d{2}:?\d{2})$/.test(value)) return '{#label} needs a timezone (Z or +01:00)';
  return undefined;
}

export const consentRowSchema = Joi.object({
  external_id: Joi.string().trim().min(1).required(),
  channel: Joi.string().valid('email', 'sms').required(),
  purpose: Joi.string()
    .trim()
    .pattern(/^[a-z][a-z0-9_-]*$/)
    .required(),
  action: Joi.string().valid('grant', 'confirm', 'withdraw').required(),
  // The timezone check comes first: isoDate() normalises the value to UTC as it validates.
  occurred_at: Joi.string()
    .required()
    .custom((value: string, helpers) => {
      const problem = instantProblem(value);
      return problem === undefined ? value : helpers.message({ custom: problem });
    }),
  source: Joi.string().trim().min(1).max(200).required(),
  // Optional evidence columns: where and how the consent was given, and what the person was told.
  ip: Joi.string()
    .trim()
    .ip({ cidr: 'forbidden' })
    .allow('')
    .messages({ 'string.ip': 'ip must be an IPv4 or IPv6 address', 'string.ipVersion': 'ip must be an IPv4 or IPv6 address' }),
  user_agent: Joi.string().trim().max(1000).allow(''),
  form: Joi.string().trim().max(200).allow(''),
  notice_version: Joi.string().trim().max(100).allow(''),
  notice_hash: Joi.string()
    .trim()
    .lowercase()
    .pattern(/^[0-9a-f]{64}$/)
    .allow('')
    .messages({ 'string.pattern.base': 'notice_hash must be a SHA-256 in hex (64 characters)' }),
})
  .unknown(false)
  .prefs({ abortEarly: false, errors: { wrap: { label: false } }, messages: { 'object.unknown': 'unexpected column {#label}' } });

/** A row of the file as consentRowSchema returns it. */
type Row = {
  external_id: string;
  channel: Channel;
  purpose: string;
  action: ConsentEventInput['action'];
  occurred_at: string;
  source: string;
  ip?: string;
  user_agent?: string;
  form?: string;
  notice_version?: string;
  notice_hash?: string;
};

const OPTIONAL = ['ip', 'user_agent', 'form', 'notice_version', 'notice_hash'] as const;
const COLUMNS = new Set(['external_id', 'channel', 'purpose', 'action', 'occurred_at', 'source', ...OPTIONAL]);
const PURPOSE = /^[a-z][a-z0-9_-]*$/;
const CHANNEL = { email: 'email', sms: 'sms' } as const;
// The purposes seen so far, each kept once (a file names a handful; past 100 they are not kept).
const PURPOSES = new Map<string, string>();
function interned(purpose: string): string {
  const known = PURPOSES.get(purpose);
  if (known !== undefined) return known;
  if (PURPOSES.size < 100) PURPOSES.set(purpose, purpose);
  return purpose;
}
const trimmed = (value: string | undefined, max = Infinity): value is string =>
  value !== undefined && value.length > 0 && value.length <= max && value.trim() === value;

/**
 * The row as consentRowSchema would return it, for the common shape only (required values already
 * trimmed and valid, optional columns empty), decided without joi, which would cost more than the
 * rest of the import; undefined for any other row, which joi then judges (and names what is
 * wrong). test/consent/import.test.ts holds the two to the same answers.
 */
export function commonConsentRow(values: Record<string, string>): Row | undefined {
  for (const column in values) if (!COLUMNS.has(column)) return undefined;
  for (const column of OPTIONAL) if (values[column] !== undefined && values[column] !== '') return undefined;
  const { external_id, channel, purpose, action, occurred_at, source } = values;
  if (!trimmed(external_id) || !trimmed(source, 200) || occurred_at === undefined || occurred_at === '') return undefined;
  if (channel !== 'email' && channel !== 'sms') return undefined;
  if (action !== 'grant' && action !== 'confirm' && action !== 'withdraw') return undefined;
  if (purpose === undefined || !PURPOSE.test(purpose) || instantProblem(occurred_at) !== undefined) return undefined;
  // The constants rather than the parsed strings: a batch keeps channel and purpose until it is appended.
  const row: Row = { external_id, channel: CHANNEL[channel], purpose: interned(purpose), action, occurred_at, source };
  for (const column of OPTIONAL) if (values[column] !== undefined) row[column] = '';
  return row;
}

/** The row, or the reasons it is kept out. */
export function checkConsentRow(values: Record<string, string>): { value: Row } | { errors: string } {
  const common = commonConsentRow(values);
  const { value, error } = common ? { value: common, error: undefined } : consentRowSchema.validate(values);
  if (error) return { errors: error.details.map((d) => d.message).join('; ') };
  // PostgreSQL keeps a NUL in no text or jsonb: one such value would fail its whole batch.
  for (const [column, cell] of Object.entries(value as Record<string, string>)) {
    if (cell.includes('\u0000')) return { errors: `${column} holds a NUL character (\\u0000), which no field accepts` };
  }
  return { value: value as Row };
}

// The lead of each row by external id, in the rows' order (NULL for none), and the keyed hash of
// the address the row's channel reaches, as the insert trigger would find it.
const LEADS_OF_ROWS = statement(
  'consent.import-leads-of-rows',
  `SELECT l.id AS lead_id, consent_subject_hash(CASE k.channel WHEN 'email' THEN l.email ELSE l.phone END, s.value) AS subject_hash
     FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(external_id, channel, n)
     LEFT JOIN leads l ON l.external_id = k.external_id
     CROSS JOIN (SELECT value FROM settings WHERE key = 'ledger_subject_key') s
    ORDER BY k.n`,
);

/**
 * Imports consent history (external_id, channel, purpose, action, occurred_at, source, and
 * optionally ip, user_agent, form, notice_version, notice_hash) into the ledger. Every event names
 * this import (an id, the file and its row) in its evidence; rows naming unknown leads or holding
 * bad values are reported by row number and skipped. Built for files of millions of rows, in
 * memory that does not grow with the file: rows stream from the file through a cheap check (joi
 * only for rows off the common shape) and are appended in batches, each in its own transaction
 * while the next one is read, by the bulk form of appendConsentEvents (same events, same state,
 * same suppressions; the chain sealed a batch at a time under the ledger's lock).
 */
export interface ConsentImportOptions {
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
  /** The notice store rows' notice versions are checked against (consent/notices.ts). */
  notices?: NoticeStore;
}

export async function importConsents(pool: pg.Pool, file: string, options: ConsentImportOptions = {}): Promise<ConsentImportReport> {
  assertReadable(file, ['csv']);
  const batchSize = options.batchSize ?? 10_000;
  const total = await countLines(file);
  const report: ConsentImportReport = { imported: 0, rejected: [] };
  const importId = `import-${new Date().toISOString()}-${crypto.randomBytes(3).toString('hex')}`;
  const fileName = path.basename(file);

  // Two batches take turns: one is read while the other is looked up and appended.
  const batches = [new ImportBatch(), new ImportBatch()];
  let filling = 0;

  // The leads of a batch looked up (each external id once) on a connection of the pool, so that
  // this runs while the batch before is appended; rows naming no lead are rejected.
  const placeLeads = async (batch: ImportBatch): Promise<SealBatch> => {
    // One index per channel: keys made of channel and id would be garbage that outlives the batch.
    const index = { email: new Map<string, number>(), sms: new Map<string, number>() };
    const keys: { externalId: string[]; channel: string[] } = { externalId: [], channel: [] };
    const slots = batch.externalIds.map((externalId, i) => {
      const channel = batch.events.channels[i] as Channel;
      let slot = index[channel].get(externalId);
      if (slot === undefined) {
        slot = keys.externalId.push(externalId) - 1;
        keys.channel.push(channel);
        index[channel].set(externalId, slot);
      }
      return slot;
    });
    const { rows: leads } = await pool.query<{ lead_id: number | null; subject_hash: string | null }>(LEADS_OF_ROWS, [
      keys.externalId,
      keys.channel,
    ]);
    slots.forEach((slot, i) => {
      const { lead_id: leadId, subject_hash: subjectHash } = leads[slot]!;
      if (leadId === null) {
        report.rejected.push({ row: batch.rows[i]!, reason: `no lead with external_id '${batch.externalIds[i]}' (import leads first)` });
      } else batch.events.placeLead(i, Number(leadId), subjectHash);
    });
    return batch.events;
  };

  return withSession(pool, async (client) => {
    const behind = new SaveBehind();
    const save = (events: Promise<SealBatch>, upTo: number) =>
      behind.add(async () => {
        const placed = await events;
        report.imported += await transactionOn(client, () => appendConsentEventsInBulk(client, placed));
        options.onProgress?.(upTo, Math.max(total, upTo));
      });
    const settle = () => behind.settle();

    let done = 0;
    for await (const { row, values } of csvRows(file)) {
      done++;
      const checked = checkConsentRow(values);
      if ('errors' in checked) {
        report.rejected.push({ row, reason: checked.errors });
        continue;
      }
      const r = checked.value;
      if (r.notice_version) {
        // A version the notice store holds must come with its text's hash: else the row is named, not imported.
        try {
          noticeFor(options.notices ?? new Map(), r.purpose, r.notice_version, r.notice_hash || null);
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          report.rejected.push({ row, reason: err.message });
          continue;
        }
      }
      batches[filling]!.add(row, r.external_id, {
        channel: r.channel,
        purpose: r.purpose,
        action: r.action,
        source: r.source,
        evidence: {
          import: importId,
          file: fileName,
          row,
          ...(r.ip ? { ip: r.ip } : {}),
          ...(r.user_agent ? { user_agent: r.user_agent } : {}),
          ...(r.form ? { form: r.form } : {}),
        },
        actor: 'import',
        occurredAt: new Date(r.occurred_at),
        noticeVersion: r.notice_version || null,
        noticeHash: r.notice_hash || null,
      });
      if (batches[filling]!.size >= batchSize) {
        // This batch's leads are looked up while the batch before is still being appended.
        const placed = placeLeads(batches[filling]!);
        placed.catch(() => {}); // a failure surfaces when the batch is saved
        await settle();
        save(placed, done);
        filling = 1 - filling;
        batches[filling]!.clear();
      }
    }
    if (batches[filling]!.size > 0) save(placeLeads(batches[filling]!), done);
    await settle();
    report.rejected.sort((a, b) => a.row - b.row);
    return report;
  });
}

/** A batch of the file's rows: their events (SealBatch), and the row and external id of each. */
class ImportBatch {
  readonly events = new SealBatch();
  rows: number[] = [];
  externalIds: string[] = [];

  get size(): number {
    return this.rows.length;
  }

  add(row: number, externalId: string, event: UnplacedEvent): void {
    this.rows.push(row);
    this.externalIds.push(externalId);
    this.events.add(event);
  }

  clear(): void {
    this.events.clear();
    this.rows = [];
    this.externalIds = [];
  }
}
