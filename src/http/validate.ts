import type { Request, RequestHandler } from 'express';
import type Joi from 'joi';
import { AppError } from '../errors.ts';

/**
 * NUL (U+0000) is refused at the edge, in one rule for every input: PostgreSQL accepts it in
 * neither text nor jsonb, so a NUL that got past here would fail deep inside, as a 500, and take
 * whatever shared its transaction down with it.
 */
const NUL = '\u0000';

interface Node {
  value: unknown;
  key?: string;
  parent?: Node;
}

/** Where a value holds a NUL, in a string or a key (`properties.note`, `[3].lead`), or undefined. */
export function nulPath(value: unknown): string | undefined {
  // Iterative, and paths are built only for a hit: a body may nest thousands of levels deep.
  const stack: Node[] = [{ value }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (typeof node.value === 'string') {
      if (node.value.includes(NUL)) return pathOf(node);
    } else if (Array.isArray(node.value)) {
      node.value.forEach((item, i) => stack.push({ value: item, key: `[${i}]`, parent: node }));
    } else if (node.value !== null && typeof node.value === 'object') {
      for (const [key, child] of Object.entries(node.value)) {
        const entry: Node = { value: child, key, parent: node };
        if (key.includes(NUL)) return pathOf(entry);
        stack.push(entry);
      }
    }
  }
  return undefined;
}

function pathOf(node: Node): string {
  const keys: string[] = [];
  for (let at: Node | undefined = node; at?.key !== undefined; at = at.parent) keys.unshift(at.key);
  const path = keys.map((k, i) => (k.startsWith('[') || i === 0 ? k : `.${k}`)).join('');
  return path.replaceAll(NUL, '\\u0000') || 'the value';
}

const nulMessage = (path: string) => `"${path}" holds a NUL character (\\u0000), which no field accepts`;

/** Refuses a value holding a NUL with 400, naming where. */
function refuseNul(value: unknown, where: string): void {
  const path = nulPath(value);
  if (path !== undefined) throw new AppError('invalid_input', `invalid ${where}`, { details: [nulMessage(path)] });
}

/** A URL holding NUL (`%00`) is refused before any route reads a path parameter or query value from it. */
export const refuseNulInUrl: RequestHandler = (req, _res, next) => {
  if (req.url.includes('%00')) throw new AppError('invalid_input', 'invalid URL', { details: [nulMessage('the URL')] });
  next();
};

/** Form bodies (pages, webhooks) after parsing, held to the same rule. */
export const refuseNulInForm: RequestHandler = (req, _res, next) => {
  refuseNul(req.body, 'form');
  next();
};

function check<T>(schema: Joi.Schema<T>, value: unknown, where: string): T {
  refuseNul(value, where);
  const { value: valid, error } = schema.validate(value ?? {}, { abortEarly: false, stripUnknown: false });
  if (error) throw new AppError('invalid_input', `invalid ${where}`, { details: error.details.map((d) => d.message) });
  return valid;
}

/** The JSON body, for routes that check their records themselves; it holds no NUL. */
export function bodyOf(req: Request): unknown {
  refuseNul(req.body, 'request body');
  return req.body;
}

/** Validates the JSON body at the edge; past this point its type is trusted. */
export function validateBody<T>(req: Request, schema: Joi.Schema<T>): T {
  return check(schema, req.body, 'request body');
}

export function validateQuery<T>(req: Request, schema: Joi.Schema<T>): T {
  return check(schema, req.query, 'query');
}

/** One item, or a batch of them (an array body), after validation; items of a batch holding a NUL are set aside. */
export interface Batch<T> {
  batch: boolean;
  /** The items to process, each with its index in the request. */
  items: { index: number; value: T }[];
  /** Items of a batch that hold a NUL, with the reason: the caller answers 422 for them and keeps the others. */
  refused: { index: number; reason: string }[];
}

/**
 * Validates a body of one item or an array of items with `schema`. A single item holding a NUL
 * is refused with 400, as any request; in a batch only that item is refused, like any other
 * item its caller cannot take, so one bad record does not cost the rest of the batch.
 */
export function validateBatch<T>(req: Request, schema: Joi.Schema<T | T[]>): Batch<T> {
  const batch = Array.isArray(req.body);
  if (!batch) return { batch, items: [{ index: 0, value: validateBody(req, schema) as T }], refused: [] };
  const { value, error } = schema.validate(req.body, { abortEarly: false, stripUnknown: false });
  if (error) throw new AppError('invalid_input', 'invalid request body', { details: error.details.map((d) => d.message) });
  const result: Batch<T> = { batch, items: [], refused: [] };
  (value as T[]).forEach((item, index) => {
    const path = nulPath(item);
    if (path === undefined) result.items.push({ index, value: item });
    else result.refused.push({ index, reason: nulMessage(path) });
  });
  return result;
}
