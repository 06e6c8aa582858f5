import fs from 'node:fs';
import type pg from 'pg';
import { assertReadable, countLines, csvRows } from '../csv.ts';
import { copyOut } from '../db/copy.ts';
import { statement } from '../db/statement.ts';
import { SaveBehind } from '../save-behind.ts';
import { transactionOn, withSession } from '../db/tx.ts';
import { AppError } from '../errors.ts';
import { LeadStage, prepareLeadStage, saveStagedLeads, stagedRow, type LeadInput } from './store.ts';
import { LEAD_FIELDS } from './types.ts';
import { LEAD_COLUMNS, validateLeadRecord } from './validation.ts';

/** A row kept out (rejected) or kept with a remark (warning), named by its row number. */
export type ImportProblem = { kind: 'rejected'; row: number; reason: string } | { kind: 'warning'; row: number; message: string };

export interface ImportReport {
  imported: number;
  /** New leads; every other imported row updated a lead (one known before, or an earlier row of the file). */
  created: number;
  updated: number;
  /** The first rejected rows and warnings (KEPT_PROBLEMS of each); onProblem sees every one. */
  rejected: { row: number; reason: string }[];
  warnings: { row: number; message: string }[];
  rejectedCount: number;
  warningCount: number;
}

/** How many rejections and warnings a report keeps in memory, each; the rest only go to onProblem. */
export const KEPT_PROBLEMS = 100;

export interface ImportOptions {
  /** Rows saved per transaction (and per progress step). */
  batchSize?: number;
  /** Region for phone numbers written without a country code (DEFAULT_PHONE_REGION). */
  phoneRegion?: string;
  onProgress?: (done: number, total: number) => void;
  /** Every rejected row and every warning, as found; repeated external ids are found at the end. */
  onProblem?: (problem: ImportProblem) => void;
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
  for (const column in values) {
    const cell = values[column]!;
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

const NUL = '\u0000';

/** Which field of a lead holds a NUL, which PostgreSQL stores in no text or jsonb; undefined when none does. */
function fieldWithNul(lead: LeadInput): string | undefined {
  for (const [name, field] of Object.entries(LEAD_FIELDS)) if ((lead[field] as string | null)?.includes(NUL)) return name;
  if (lead.tags.some((t) => t.includes(NUL))) return 'tags';
  for (const [key, value] of Object.entries(lead.attributes)) {
    if (key.includes(NUL) || (typeof value === 'string' && value.includes(NUL))) return `attributes.${key}`;
  }
  return undefined;
}

// Every row of the file, as (row, external id), to name repeated external ids once all is saved.
const SEEN_CREATE = statement(
  'leads.import-seen-create',
  `CREATE TEMPORARY TABLE IF NOT EXISTS lead_import_seen (row integer NOT NULL, external_id text NOT NULL)`,
);
const SEEN_ADD = statement(
  'leads.import-seen-add',
  `INSERT INTO lead_import_seen (row, external_id) SELECT row, external_id FROM lead_stage`,
);
const REPEATED = statement(
  'leads.import-repeated',
  `COPY (SELECT row, earlier, external_id FROM (
           SELECT row, external_id, lag(row) OVER (PARTITION BY external_id ORDER BY row) AS earlier FROM lead_import_seen
            WHERE external_id IN (SELECT external_id FROM lead_import_seen GROUP BY external_id HAVING count(*) > 1)) r
          WHERE earlier IS NOT NULL ORDER BY row)
   TO STDOUT WITH (FORMAT csv)`,
);

/** The report, holding the first problems of each kind and counting the rest. */
class Problems {
  readonly report: ImportReport = { imported: 0, created: 0, updated: 0, rejected: [], warnings: [], rejectedCount: 0, warningCount: 0 };
  constructor(private readonly onProblem?: (problem: ImportProblem) => void) {}

  reject(row: number, reason: string): void {
    if (++this.report.rejectedCount <= KEPT_PROBLEMS) this.report.rejected.push({ row, reason });
    this.onProblem?.({ kind: 'rejected', row, reason });
  }

  warn(row: number, message: string): void {
    if (++this.report.warningCount <= KEPT_PROBLEMS) this.report.warnings.push({ row, message });
    this.onProblem?.({ kind: 'warning', row, message });
  }
}

/**
 * Imports leads from CSV or JSON, upserting by external id. Bad rows are reported with their row
 * number and kept out; every good row is kept. Built for files of millions of rows, in memory
 * that does not grow with the file: rows stream from the file through a cheap check (joi only for
 * rows off the common shape), are sent in batches by COPY and saved by the bulk form of saveLeads,
 * each batch in its own transaction while the next one is read. Of repeated external ids the
 * later row wins (a batch never holds one twice, so each row is an upsert of its own, attributes
 * merged); every repeat is named with the row before it once all is saved.
 */
export async function importLeads(pool: pg.Pool, file: string, options: ImportOptions = {}): Promise<ImportReport> {
  const ext = assertReadable(file, ['csv', 'json']);
  const batchSize = options.batchSize ?? 10_000;
  const problems = new Problems(options.onProblem);
  const { report } = problems;
  const total = ext === 'csv' ? await countLines(file) : 0;
  let done = 0;

  return withSession(pool, async (client) => {
    await prepareLeadStage(client);
    await client.query(SEEN_CREATE);
    const behind = new SaveBehind();
    const save = (stage: LeadStage, upTo: number) =>
      behind.add(async () => {
        const saved = await transactionOn(client, async () => {
          const staged = await saveStagedLeads(client, stage);
          await client.query(SEEN_ADD);
          return staged;
        });
        report.imported += saved.saved;
        report.created += saved.created;
        for (const { row, events } of saved.carried) {
          for (const event of events) {
            problems.warn(
              row,
              `this address withdrew consent before its earlier record was erased; the withdrawal (event ${event}) carries over`,
            );
          }
        }
        options.onProgress?.(upTo, Math.max(total, upTo));
      });
    const settle = () => behind.settle();

    // Two batches take turns: one is filled while the other is saved.
    const stages = [new LeadStage(), new LeadStage()];
    let filling = 0;
    const rows = ext === 'csv' ? csvRows(file) : jsonRecords(file);
    for await (const { row, values } of rows) {
      done++;
      const record = ext === 'csv' ? recordFromCsv(values as Record<string, string>) : values;
      const result = validateLeadRecord(record, options.phoneRegion);
      if ('errors' in result) {
        problems.reject(row, result.errors.join('; '));
        continue;
      }
      const staged = stagedRow(row, result.lead);
      // One look at the row's text: a NUL, or JSON's escape of one, which jsonb refuses as well.
      const withNul = staged.includes(NUL) || staged.includes('\\u0000') ? fieldWithNul(result.lead) : undefined;
      if (withNul !== undefined) {
        problems.reject(row, `${withNul.replaceAll(NUL, '\\u0000')} holds a NUL character (\\u0000), which no field accepts`);
        continue;
      }
      for (const message of result.warnings) problems.warn(row, message);
      let stage = stages[filling]!;
      if (stage.size >= batchSize || stage.has(result.lead.externalId)) {
        await settle();
        save(stage, done - 1);
        filling = 1 - filling;
        stage = stages[filling]!;
        stage.clear();
      }
      stage.add(result.lead.externalId, staged);
    }
    if (stages[filling]!.size > 0) save(stages[filling]!, done);
    await settle();
    for await (const [row, earlier, externalId] of copyOut(client, REPEATED)) {
      problems.warn(Number(row), `external_id '${externalId}' also on row ${earlier}; this later row wins`);
    }
    report.updated = report.imported - report.created;
    options.onProgress?.(done, done);
    return report;
  });
}
