import { once } from 'node:events';
import { parse } from 'csv-parse';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';

/**
 * COPY, PostgreSQL's bulk path: rows travel as text in one stream instead of one parameter list
 * per statement. The statements are declared like every other (`statement()`); the suite checks
 * them by running them with no rows (test/db/statements.test.ts), since COPY cannot be prepared.
 */

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A value as a field of COPY's text format (`\N` is NULL). */
export function copyField(value: string | number | null): string {
  if (value === null) return '\\N';
  const text = String(value);
  return /[\\\t\n\r]/.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]!) : text;
}

/** A text[] as a field of COPY's text format: each element quoted, so commas and braces stay data. */
function copyTextArray(values: readonly string[]): string {
  return copyField(`{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`);
}

/** One row of COPY's text format, with its newline; an array is a text[]. */
export function copyRow(fields: (string | number | null | readonly string[])[]): string {
  return fields.map((f) => (Array.isArray(f) ? copyTextArray(f) : copyField(f as string | number | null))).join('\t') + '\n';
}

/** Sends `data` (rows made by copyRow) through a `COPY … FROM STDIN` statement. */
export async function copyIn(client: pg.PoolClient, sql: string, data: string | Buffer): Promise<void> {
  const stream = client.query(copyFrom(sql));
  const done = Promise.race([once(stream, 'finish'), once(stream, 'error').then(([err]) => Promise.reject(err as Error))]);
  stream.end(data);
  await done;
}

/** Streams the rows of a `COPY (…) TO STDOUT WITH (FORMAT csv)` statement, a few at a time, as arrays of fields. */
export function copyOut(client: pg.PoolClient, sql: string): AsyncIterable<string[]> {
  const stream = client.query(copyTo(sql));
  const rows = parse();
  stream.on('error', (err) => rows.destroy(err));
  return stream.pipe(rows);
}
