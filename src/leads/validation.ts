import Joi from 'joi';
import { IANAZone } from 'luxon';
import { toE164 } from './phone.ts';
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
  attributes: Joi.object()
    .pattern(Joi.string().max(100), Joi.alternatives(Joi.string().max(2000), Joi.number(), Joi.boolean()))
    .max(LEAD_LIMITS.attributes),
})
  .or('email', 'phone')
  .messages({
    'object.missing': 'a lead needs an email or a phone',
    'string.email': "{#label} '{#value}' is not a valid address",
  })
  .prefs({ errors: { wrap: { label: false } } });

/**
 * Validates one record; returns the lead or the reasons it was refused. Phones are stored in
 * E.164; a phone that is not a valid number is kept as written, with a warning, and SMS to it are
 * suppressed with `invalid_address`.
 */
export function validateLeadRecord(record: unknown, phoneRegion?: string): { lead: LeadInput; warnings: string[] } | { errors: string[] } {
  const { value, error } = leadRecordSchema.validate(record, { abortEarly: false, convert: true });
  if (error) return { errors: error.details.map((d) => d.message) };
  const warnings: string[] = [];
  const e164 = value.phone === undefined ? undefined : toE164(value.phone, phoneRegion);
  const phone = e164 ?? value.phone ?? null;
  if (value.phone !== undefined && e164 === undefined) {
    warnings.push(
      `phone '${value.phone}' is not a valid number${phoneRegion ? ` (read in region ${phoneRegion})` : ''}; SMS to this lead will be suppressed (invalid_address)`,
    );
  }
  return {
    warnings,
    lead: {
      externalId: value.external_id,
      email: value.email ?? null,
      phone,
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
