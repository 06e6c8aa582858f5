import { AsyncLocalStorage } from 'node:async_hooks';
import pino from 'pino';

/**
 * The one log writer, on pino, to stderr (stdout stays free for command output: plan tables,
 * JSON). One event is one line: JSON when stderr is not a terminal (collectors, files, journald),
 * `<time> <level> <message> key=value …` on one (or as LOG_FORMAT says). Whatever a line holds,
 * it stays one line and its fields stay its own: JSON escapes control characters (and we escape the
 * C1 controls and line separators it would leave raw), the terminal format escapes them and quotes
 * values with spaces, quotes or `=`. Errors are written by `describeError`, without the values a
 * database error carries; text we did not write (errors of providers and libraries) has email
 * addresses and phone numbers masked. Lines logged while a request or a run is handled carry its
 * id (`withLogContext`).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
/** `auto`: text on a terminal, JSON anywhere else. */
export type LogFormat = 'auto' | 'json' | 'pretty';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose lines all carry `fields` too. */
  child(fields: LogFields): Logger;
}

const LEVELS: readonly string[] = ['debug', 'info', 'warn', 'error', 'silent'];
const isPretty = (format: string | undefined) => format === 'pretty' || (format !== 'json' && process.stderr.isTTY === true);
let pretty = isPretty(process.env.LOG_FORMAT);

export function setLogLevel(level: LogLevel): void {
  root.level = level;
}

export function setLogFormat(format: LogFormat): void {
  pretty = isPretty(format);
}

const context = new AsyncLocalStorage<LogFields>();

/** Runs `fn` so that every line logged inside it, however deep, carries `fields` (inside an outer context: both). */
export function withLogContext<T>(fields: LogFields, fn: () => T): T {
  return context.run({ ...context.getStore(), ...fields }, fn);
}

const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '"': '\\"', '\\': '\\\\' };
const escapeChar = (c: string) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
/* eslint-disable no-control-regex -- finding control characters is the point */
/** C0 and C1 controls, DEL, the Unicode line and paragraph separators, and the backslash (it starts an escape). */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\\]/g;
/** The same, and the double quote, inside a quoted value. */
const UNSAFE_QUOTED = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\\"]/g;
/** What JSON leaves raw in a string but a terminal or a line splitter may act on. */
const RAW_IN_JSON = /[\u007f-\u009f\u2028\u2029]/g;
/* eslint-enable no-control-regex */

/** Text as one line: every control character (and the backslash) written as an escape. */
function escapeForLog(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/** A value as it is when nothing in it could end the line or the field, else quoted and escaped. */
function formatValue(value: unknown): string {
  const text = typeof value === 'string' ? value : String(JSON.stringify(value));
  return /^[^\s"=]+$/.test(text) && escapeForLog(text) === text ? text : `"${text.replace(UNSAFE_QUOTED, escapeChar)}"`;
}

/** Keys of pino's own; a field of that name would make a second key in the JSON object. */
const RESERVED = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

/** One JSON line as the terminal format. */
function prettyLine(line: string): string {
  const { time, level, msg, pid: _pid, hostname: _host, ...fields } = JSON.parse(line) as LogFields;
  const extra = Object.entries(fields)
    .map(([k, v]) => ` ${escapeForLog(k)}=${formatValue(v)}`)
    .join('');
  return `${String(time)} ${String(level).padEnd(5)} ${escapeForLog(String(msg))}${extra}\n`;
}

/** Addresses and numbers in text we did not write: the local part of an email address, the digits of an E.164 number. */
export function maskPersonalData(text: string): string {
  return text.replace(/[^\s<>"'(),;:@[\]]+@(?=[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)/g, '…@').replace(/\+\d(?:[ ().-]?\d){6,14}/g, '+…');
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

/** The fields of a line as written: errors described and masked, pino's own keys never overwritten. */
function writtenFields(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    const name = RESERVED.has(key) ? `field_${key}` : key;
    if (value instanceof Error) out[name] = maskPersonalData(describeError(value));
    else if (key === 'error' && typeof value === 'string') out[name] = maskPersonalData(value);
    else out[name] = value;
  }
  return out;
}

const root = pino(
  {
    level: LEVELS.includes(process.env.LOG_LEVEL ?? '') ? process.env.LOG_LEVEL : 'info',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }), log: writtenFields },
    mixin: () => context.getStore() ?? {},
  },
  {
    // process.stderr is looked up per line, so a test that replaces its write sees every line.
    write(line: string) {
      process.stderr.write(pretty ? prettyLine(line) : line.replace(RAW_IN_JSON, escapeChar));
    },
  },
);

function logger(bound: LogFields): Logger {
  const at = (level: Exclude<LogLevel, 'silent'>) => (message: string, fields?: LogFields) => root[level]({ ...bound, ...fields }, message);
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (more) => logger({ ...bound, ...more }) };
}

export const log: Logger = logger({});
