import fs from 'node:fs';
import type pg from 'pg';
import { assertReadable, countLines, csvRows } from '../csv.ts';
import { AppError } from '../errors.ts';
import { saveLeads, type LeadInput } from './store.ts';
import { LEAD_COLUMNS, validateLeadRecord } from './validation.ts';

export interface ImportReport {
  imported: number;
  created: number;
  updated: number;
  rejected: { row: number; reason: string }[];
  warnings: { row: number; message: string }[];
}

export interface ImportOptions {
  batchSize?: number;
  /** Region for phone numbers written without a country code (DEFAULT_PHONE_REGION). */
  phoneRegion?: string;
  onProgress?: (done: number, total: number) => void;
}

const CORE = new Set<string>(LEAD_COLUMNS);

/** A CSV cell as an attribute value: numbers and booleans typed, empty cells left out. */
function typed(cell: string): string | number | boolean | undefined {
  if (cell === '') return undefined;
  if (/^-?(?:0|[1-9]\d*)(?:\.\d+)?$/.test(cell)) return Number(cell);
  if (/^(true|false)$/i.test(cell)) return cell.toLowerCase() === 'true';
  return cell;
}

/** A CSV row in the shape the API accepts: core columns by name, every other column an attribute. */
export function recordFromCsv(values: Record<string, string>): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  const attributes: Record<string, unknown> = {};
  for (const [column, cell] of Object.entries(values)) {
    if (column === 'tags')
      record.tags = cell
        .split(';')
        .map((t) => t.trim())
        .filter(Boolean);
    else if (CORE.has(column)) {
      if (cell !== '') record[column] = cell;
    } else {
      const value = typed(cell);
      if (value !== undefined) attributes[column] = value;
    }
  }
  record.attributes = attributes;
  return record;
}

async function* jsonRecords(file: string): AsyncGenerator<{ row: number; values: unknown }> {
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new AppError('invalid_input', `${file}: not valid JSON: ${(cause as Error).message}`, { cause });
  }
  if (!Array.isArray(data)) throw new AppError('invalid_input', `${file}: expected a JSON array of lead objects`);
  for (const [i, values] of data.entries()) yield { row: i + 1, values };
}

/**
 * Imports leads from CSV or JSON, upserting by external id in batches. Bad rows are reported with
 * their row number and kept out; every good row is kept.
 */
export async function importLeads(pool: pg.Pool, file: string, options: ImportOptions = {}): Promise<ImportReport> {
  const ext = assertReadable(file, ['csv', 'json']);
  const batchSize = options.batchSize ?? 1000;
  const report: ImportReport = { imported: 0, created: 0, updated: 0, rejected: [], warnings: [] };
  const total = ext === 'csv' ? await countLines(file) : 0;
  const seen = new Map<string, number>();
  let batch: LeadInput[] = [];
  let done = 0;

  const flush = async () => {
    const results = await saveLeads(pool, batch);
    report.imported += batch.length;
    for (const r of results) {
      if (r.created) report.created++;
      else report.updated++;
      for (const event of r.carriedFrom) {
        report.warnings.push({
          row: seen.get(r.externalId)!,
          message: `this address withdrew consent before its earlier record was erased; the withdrawal (event ${event}) carries over`,
        });
      }
    }
    batch = [];
    options.onProgress?.(done, Math.max(total, done));
  };

  const rows = ext === 'csv' ? csvRows(file) : jsonRecords(file);
  for await (const { row, values } of rows) {
    done++;
    const record = ext === 'csv' ? recordFromCsv(values as Record<string, string>) : values;
    const result = validateLeadRecord(record, options.phoneRegion);
    if ('errors' in result) {
      report.rejected.push({ row, reason: result.errors.join('; ') });
      continue;
    }
    for (const message of result.warnings) report.warnings.push({ row, message });
    const earlier = seen.get(result.lead.externalId);
    if (earlier !== undefined) {
      report.warnings.push({ row, message: `external_id '${result.lead.externalId}' also on row ${earlier}; this later row wins` });
    }
    seen.set(result.lead.externalId, row);
    batch.push(result.lead);
    if (batch.length >= batchSize) await flush();
  }
  if (batch.length > 0) await flush();
  options.onProgress?.(done, done);
  return report;
}
