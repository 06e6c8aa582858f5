/**
 * One error type for everything a user or caller can act on. It carries a stable `code`, the HTTP
 * status an API answers with, and details (for example every problem found in a file), so that HTTP
 * handlers and CLI commands only have to present it.
 */
export type ErrorCode =
  | 'invalid_input'
  | 'invalid_config'
  | 'invalid_campaign'
  | 'not_found'
  | 'unauthorized'
  | 'forbidden'
  | 'conflict'
  | 'unsupported'
  | 'unprocessable'
  | 'overloaded'
  | 'database';

/** The HTTP status an API answers each code with (the OpenAPI document lists codes per status from it). */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_input: 400,
  invalid_config: 500,
  invalid_campaign: 422,
  not_found: 404,
  unauthorized: 401,
  forbidden: 403,
  conflict: 409,
  unsupported: 422,
  unprocessable: 422,
  overloaded: 429,
  database: 503,
};

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: string[];
  /** Extra fields for an API answer (for example what a partly refused batch did record). */
  readonly body: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: { details?: string[]; cause?: unknown; body?: Record<string, unknown> } = {}) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = HTTP_STATUS[code];
    this.details = options.details ?? [];
    this.body = options.body ?? {};
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** SQLSTATEs of a server going away or not taking connections yet (admin/crash shutdown, starting up). */
const SERVER_GONE = new Set(['57P01', '57P02', '57P03']);
/** A socket refused, cut or timed out; ENOENT only from connect() (a Unix socket whose server is gone). */
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);
/** What pg and pg-pool say when a connection broke or could not be made in time. */
const BROKEN = /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect)/;

/**
 * Whether `err` says the database could not be reached (a refused or broken connection, a server
 * shutting down or still recovering), as opposed to a statement that failed. Background work logs
 * these quietly: the database watch reports the outage once (db/watch.ts).
 */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const { code, syscall } = err as { code?: unknown; syscall?: unknown };
  if (typeof code === 'string') {
    if (SERVER_GONE.has(code) || /^08[0-9A-Z]{3}$/.test(code) || SOCKET_ERRORS.has(code)) return true;
    if (code === 'ENOENT' && syscall === 'connect') return true;
  }
  if (BROKEN.test(err.message)) return true;
  const inner = err instanceof AggregateError ? err.errors : [err.cause];
  return inner.some(isConnectionError);
}
