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
