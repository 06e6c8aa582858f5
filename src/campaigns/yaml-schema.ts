import { CronExpressionParser } from 'cron-parser';
import Joi from 'joi';
import { duration, HHMM, id, LIMITS, timezone } from '../yaml/schema.ts';

const cron = Joi.string().custom((value: string, helpers) => {
  try {
    CronExpressionParser.parse(value);
    return value;
  } catch (err) {
    return helpers.message({ custom: `{#label} is not a valid cron expression: ${(err as Error).message}` });
  }
});

const FILTER_HINT = '{#label} must be a value, or a mapping with in: [list], gt/gte/lt/lte: number, or exists: true/false';
const scalar = Joi.alternatives(Joi.string(), Joi.number(), Joi.boolean()).allow(null);
const condition = Joi.alternatives(
  scalar,
  Joi.object({ in: Joi.array().items(scalar).min(1).max(LIMITS.listItems).required() }),
  Joi.object({ exists: Joi.boolean().required() }),
  Joi.object({ gt: Joi.number(), gte: Joi.number(), lt: Joi.number(), lte: Joi.number() }).min(1),
).messages({
  'alternatives.match': FILTER_HINT,
  'alternatives.types': FILTER_HINT,
});
export const filterSchema = Joi.object().pattern(Joi.string(), condition).max(LIMITS.filterKeys);

const step = Joi.object({
  id: id.required(),
  channel: Joi.string().valid('email', 'sms', 'preferred').required(),
  template: Joi.string()
    .pattern(/^[a-z0-9][a-z0-9-_]*$/)
    .required()
    .messages({
      'string.pattern.base': '{#label} must name a folder under templates/ (lowercase letters, digits, - and _)',
    }),
  wait: duration,
  unless: Joi.array()
    .items(Joi.string().valid('replied', 'goal', 'opened'))
    .unique(),
});

const localDateTime = Joi.string()
  .pattern(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/)
  .messages({ 'string.pattern.base': '{#label} must be a local date and time like "2026-12-01T09:00"' });

export const campaignSchema = Joi.object({
  id: id.required(),
  name: Joi.string().max(LIMITS.nameLength).required(),
  kind: Joi.string().valid('lead', 'event').required(),
  purpose: Joi.string()
    .pattern(/^[a-z][a-z0-9_-]*$/)
    .required(),
  audience: Joi.object({
    personas: Joi.array().items(id).unique().max(LIMITS.listItems),
    tags: Joi.array().items(Joi.string()).unique().max(LIMITS.listItems),
    where: filterSchema,
  }).when('kind', { is: 'lead', then: Joi.required(), otherwise: Joi.forbidden() }),
  schedule: Joi.object({ at: localDateTime, cron, timezone }).oxor('at', 'cron').when('kind', { is: 'event', then: Joi.forbidden() }),
  send_window: Joi.object({
    from: Joi.string().pattern(HHMM).required(),
    to: Joi.string().pattern(HHMM).required(),
  }).messages({ 'string.pattern.base': '{#label} must be a time like 09:00' }),
  frequency_cap: Joi.object({
    max: Joi.number().integer().min(1).required(),
    per: duration.required(),
    on_cap: Joi.string().valid('defer', 'skip'),
  }),
  reply_queue: id,
  goal: Joi.object({ event: Joi.string().required(), within: duration }),
  trigger: Joi.object({ event: Joi.string().required(), where: filterSchema }).when('kind', {
    is: 'event',
    then: Joi.required(),
    otherwise: Joi.forbidden(),
  }),
  reentry: Joi.alternatives(Joi.string().valid('never', 'always'), Joi.object({ after: duration.required() })).when('kind', {
    is: 'event',
    otherwise: Joi.forbidden(),
  }),
  exit_on: Joi.array().items(Joi.string()).unique().when('kind', { is: 'event', otherwise: Joi.forbidden() }),
  steps: Joi.array().items(step).min(1).max(LIMITS.steps).unique('id').required(),
});

const persona = Joi.object({
  id: id.required(),
  match: filterSchema,
  preferred_channel: Joi.string().valid('email', 'sms'),
}).unknown(true);

export const personasSchema = Joi.object({
  personas: Joi.array().items(persona).max(LIMITS.personas).unique('id').required(),
});
