/**
 * Minimal leveled logger to stderr; stdout stays free for command output (plan tables, JSON).
 * One event is one line, `<time> <level> <message> key=value …`, whatever it holds: control
 * characters (newlines, terminal escapes) are escaped, so no message or value can start a forged
 * line; a value with spaces, quotes or `=` is quoted, so none can forge a field. Errors are written
 * by `describeError`, without the values a database error carries.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

let threshold: LogLevel = (process.env.LOG_LEVEL as LogLevel | undefined) ?? 'info';

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '"': '\\"', '\\': '\\\\' };
const escapeChar = (c: string) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
/* eslint-disable no-control-regex -- finding control characters is the point */
/** C0 and C1 controls, DEL, the Unicode line and paragraph separators, and the backslash (it starts an escape). */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\\]/g;
/** The same, and the double quote, inside a quoted value. */
const UNSAFE_QUOTED = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\\"]/g;
/* eslint-enable no-control-regex */

/** Text as one line: every control character (and the backslash) written as an escape. */
function escapeForLog(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/** A value as it is when nothing in it could end the line or the field, else quoted and escaped. */
function formatValue(value: unknown): string {
  const text = value instanceof Error ? describeError(value) : typeof value === 'string' ? value : String(JSON.stringify(value));
  return /^[^\s"=]+$/.test(text) && escapeForLog(text) === text ? text : `"${text.replace(UNSAFE_QUOTED, escapeChar)}"`;
}

/** What PostgreSQL (through pg) attaches to an error it reports. */
interface DatabaseError extends Error {
  code: string;
  severity: string;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
  dataType?: string;
}

function isDatabaseError(err: Error): err is DatabaseError {
  const e = err as Partial<DatabaseError>;
  return typeof e.severity === 'string' && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code);
}

/**
 * An error for the log: message and stack, and its causes. A database error keeps what names the
 * failure (SQLSTATE, table, column, constraint) but never a value: PostgreSQL puts the values of a
 * failed statement in `detail` and `where` (left out) and quotes them in its message (masked here,
 * unless the quoted text is one of those names), e.g. `invalid input syntax for type integer: "…"`.
 */
export function describeError(err: unknown, depth = 0): string {
  if (!(err instanceof Error)) return String(err);
  let text = err.stack ?? `${err.name}: ${err.message}`;
  if (isDatabaseError(err)) {
    const names = new Set([err.schema, err.table, err.column, err.constraint, err.dataType].filter(Boolean));
    const message = err.message.replace(/"([^"]*)"/g, (quoted, inner: string) => (names.has(inner) ? quoted : '"…"'));
    const facts = [
      `SQLSTATE ${err.code}`,
      ...(['table', 'column', 'constraint'] as const).flatMap((k) => (err[k] ? [`${k} ${err[k]}`] : [])),
    ];
    const frames = text.split('\n').filter((line) => /^\s+at /.test(line));
    text = [`${err.name}: ${message} (${facts.join(', ')})`, ...frames].join('\n');
  }
  return err.cause === undefined || depth >= 4 ? text : `${text}\ncaused by: ${describeError(err.cause, depth + 1)}`;
}

function write(level: Exclude<LogLevel, 'silent'>, message: string, fields?: Record<string, unknown>): void {
  if (ORDER[level] < ORDER[threshold]) return;
  const extra = fields
    ? Object.entries(fields)
        .map(([k, v]) => ` ${escapeForLog(k)}=${formatValue(v)}`)
        .join('')
    : '';
  process.stderr.write(`${new Date().toISOString()} ${level.padEnd(5)} ${escapeForLog(message)}${extra}\n`);
}

export const log = {
  debug: (m: string, f?: Record<string, unknown>) => write('debug', m, f),
  info: (m: string, f?: Record<string, unknown>) => write('info', m, f),
  warn: (m: string, f?: Record<string, unknown>) => write('warn', m, f),
  error: (m: string, f?: Record<string, unknown>) => write('error', m, f),
};
