import Joi from 'joi';
import { IANAZone } from 'luxon';
import type { LeadInput } from './store.ts';

/** Limits for lead data, in one place. */
export const LEAD_LIMITS = { idLength: 200, nameLength: 200, tags: 50, attributes: 100 } as const;

/** A lead as it arrives at the edge (CSV row, JSON object, API body), with the wire's field names. */
export interface LeadRecord {
  external_id: string;
  email?: string;
  phone?: string;
  first_name?: string;
  last_name?: string;
  locale?: string;
  timezone?: string;
  persona?: string;
  tags?: string[];
  attributes?: Record<string, string | number | boolean>;
}

export const LEAD_COLUMNS = ['external_id', 'email', 'phone', 'first_name', 'last_name', 'locale', 'timezone', 'persona', 'tags'] as const;

export const leadRecordSchema = Joi.object<LeadRecord>({
  external_id: Joi.string().trim().min(1).max(LEAD_LIMITS.idLength).required(),
  email: Joi.string().trim().lowercase().email({ tlds: false }).max(254),
  phone: Joi.string()
    .trim()
    .pattern(/^\+?[0-9][0-9 ()./-]{4,24}$/)
    .messages({ 'string.pattern.base': "{#label} '{#value}' is not a phone number" }),
  first_name: Joi.string().trim().max(LEAD_LIMITS.nameLength),
  last_name: Joi.string().trim().max(LEAD_LIMITS.nameLength),
  locale: Joi.string()
    .pattern(/^[a-z]{2,3}(?:[-_][A-Za-z]{2})?$/)
    .messages({ 'string.pattern.base': "{#label} '{#value}' must look like de or de-DE" }),
  timezone: Joi.string().custom((value: string, helpers) =>
    IANAZone.isValidZone(value) ? value : helpers.message({ custom: `{#label} '${value}' is not an IANA timezone such as Europe/Berlin` }),
  ),
  persona: Joi.string()
    .pattern(/^[a-z0-9]+(?:-[a-z0-9]+)*$/)
    .messages({ 'string.pattern.base': "{#label} '{#value}' must be a lowercase-kebab persona id" }),
  tags: Joi.array().items(Joi.string().trim().min(1).max(100)).max(LEAD_LIMITS.tags),
  attributes: Joi.object().pattern(Joi.string().max(100), Joi.alternatives(Joi.string().max(2000), Joi.number(), Joi.boolean())).max(LEAD_LIMITS.attributes),
})
  .or('email', 'phone')
  .messages({
    'object.missing': 'a lead needs an email or a phone',
    'string.email': "{#label} '{#value}' is not a valid address",
  })
  .prefs({ errors: { wrap: { label: false } } });

/** Validates one record; returns the lead or the reasons it was refused. */
export function validateLeadRecord(record: unknown): { lead: LeadInput } | { errors: string[] } {
  const { value, error } = leadRecordSchema.validate(record, { abortEarly: false, convert: true });
  if (error) return { errors: error.details.map((d) => d.message) };
  return {
    lead: {
      externalId: value.external_id,
      email: value.email ?? null,
      phone: value.phone ?? null,
      firstName: value.first_name ?? null,
      lastName: value.last_name ?? null,
      locale: value.locale ?? null,
      timezone: value.timezone ?? null,
      persona: value.persona ?? null,
      tags: value.tags ?? [],
      attributes: value.attributes ?? {},
    },
  };
}
