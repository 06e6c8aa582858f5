import type { Request } from 'express';
import type Joi from 'joi';
import { AppError } from '../errors.ts';

function check<T>(schema: Joi.Schema<T>, value: unknown, where: string): T {
  const { value: valid, error } = schema.validate(value ?? {}, { abortEarly: false, stripUnknown: false });
  if (error) throw new AppError('invalid_input', `invalid ${where}`, { details: error.details.map((d) => d.message) });
  return valid;
}

/** Validates the JSON body at the edge; past this point its type is trusted. */
export function validateBody<T>(req: Request, schema: Joi.Schema<T>): T {
  return check(schema, req.body, 'request body');
}

export function validateQuery<T>(req: Request, schema: Joi.Schema<T>): T {
  return check(schema, req.query, 'query');
}
