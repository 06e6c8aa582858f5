import crypto from 'node:crypto';
import path from 'node:path';
import Joi from 'joi';
import type pg from 'pg';
import type { Channel } from '../channels/channel.ts';
import { assertReadable, countLines, csvRows } from '../csv.ts';
import { withTransaction } from '../db/tx.ts';
import { leadIdsByExternalId } from '../leads/store.ts';
import { appendConsentEvents, type ConsentEventInput } from './ledger.ts';

export interface ConsentImportReport {
  imported: number;
  rejected: { row: number; reason: string }[];
}

const rowSchema = Joi.object({
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
      if (Number.isNaN(Date.parse(value)) || !/^\d{4}-\d{2}-\d{2}T/.test(value)) {
        return helpers.message({ custom: `{#label} '${value}' is not an ISO 8601 instant` });
      }
      // Without an offset the instant would depend on the importing machine's timezone.
      if (!/(Z|[+-]\d{2}:?\d{2})$/.test(value)) return helpers.message({ custom: '{#label} needs a timezone (Z or +01:00)' });
      return value;
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

type Row = {
  row: number;
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

/**
 * Imports consent history (external_id, channel, purpose, action, occurred_at, source, and
 * optionally ip, user_agent, form, notice_version, notice_hash) into the ledger. Every event names
 * this import (an id, the file and its row) in its evidence. Each batch is one transaction; rows
 * naming unknown leads or holding bad values are reported by row number and skipped.
 */
export async function importConsents(
  pool: pg.Pool,
  file: string,
  options: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<ConsentImportReport> {
  assertReadable(file, ['csv']);
  const batchSize = options.batchSize ?? 1000;
  const total = await countLines(file);
  const report: ConsentImportReport = { imported: 0, rejected: [] };
  const importId = `import-${new Date().toISOString()}-${crypto.randomBytes(3).toString('hex')}`;
  let batch: Row[] = [];
  let done = 0;

  const flush = async () => {
    const ids = await leadIdsByExternalId(pool, [...new Set(batch.map((r) => r.external_id))]);
    const events: ConsentEventInput[] = [];
    for (const r of batch) {
      const leadId = ids.get(r.external_id);
      if (leadId === undefined) {
        report.rejected.push({ row: r.row, reason: `no lead with external_id '${r.external_id}' (import leads first)` });
        continue;
      }
      events.push({
        leadId,
        channel: r.channel,
        purpose: r.purpose,
        action: r.action,
        source: r.source,
        evidence: {
          import: importId,
          file: path.basename(file),
          row: r.row,
          ...(r.ip ? { ip: r.ip } : {}),
          ...(r.user_agent ? { user_agent: r.user_agent } : {}),
          ...(r.form ? { form: r.form } : {}),
        },
        actor: 'import',
        occurredAt: new Date(r.occurred_at),
        noticeVersion: r.notice_version || undefined,
        noticeHash: r.notice_hash || undefined,
      });
    }
    await withTransaction(pool, (client) => appendConsentEvents(client, events));
    report.imported += events.length;
    batch = [];
    options.onProgress?.(done, Math.max(total, done));
  };

  for await (const { row, values } of csvRows(file)) {
    done++;
    const { value, error } = rowSchema.validate(values);
    if (error) report.rejected.push({ row, reason: error.details.map((d) => d.message).join('; ') });
    else batch.push({ row, ...value });
    if (batch.length >= batchSize) await flush();
  }
  if (batch.length > 0) await flush();
  report.rejected.sort((a, b) => a.row - b.row);
  return report;
}
