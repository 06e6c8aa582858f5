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

const PHONE = /^\+?[0-9][0-9 ()./-]{4,24}$/;
const LOCALE = /^[a-z]{2,3}(?:[-_][A-Za-z]{2})?$/;
const PERSONA_ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * Whether a timezone is an IANA zone, remembered per name: asking Intl costs tens of microseconds
 * and some memory each time, and an import asks once per row. Only so many names are remembered,
 * so a file of made-up zones cannot grow the cache without bound.
 */
const zones = new Map<string, boolean>();
function isZone(name: string): boolean {
  let valid = zones.get(name);
  if (valid === undefined) {
    valid = IANAZone.isValidZone(name);
    if (zones.size < 2_000) zones.set(name, valid);
  }
  return valid;
}

export const LEAD_COLUMNS = ['external_id', 'email', 'phone', 'first_name', 'last_name', 'locale', 'timezone', 'persona', 'tags'] as const;

export const leadRecordSchema = Joi.object<LeadRecord>({
  external_id: Joi.string().trim().min(1).max(LEAD_LIMITS.idLength).required(),
  email: Joi.string().trim().lowercase().email({ tlds: false }).max(254),
  phone: Joi.string().trim().pattern(PHONE).messages({ 'string.pattern.base': "{#label} '{#value}' is not a phone number" }),
  first_name: Joi.string().trim().max(LEAD_LIMITS.nameLength),
  last_name: Joi.string().trim().max(LEAD_LIMITS.nameLength),
  locale: Joi.string().pattern(LOCALE).messages({ 'string.pattern.base': "{#label} '{#value}' must look like de or de-DE" }),
  timezone: Joi.string().custom((value: string, helpers) =>
    isZone(value) ? value : helpers.message({ custom: `{#label} '${value}' is not an IANA timezone such as Europe/Berlin` }),
  ),
  persona: Joi.string().pattern(PERSONA_ID).messages({ 'string.pattern.base': "{#label} '{#value}' must be a lowercase-kebab persona id" }),
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

/** Addresses that joi's email rule (RFC 5321 dot-atoms, tlds not checked) accepts, in plain ASCII. */
const FAST_EMAIL =
  /^[\w!#$%&'*+\-/=?^`{|}~]+(?:\.[\w!#$%&'*+\-/=?^`{|}~]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z](?:[a-z0-9-]*[a-z0-9])?$/i;
const NAMED = new Set<string>([...LEAD_COLUMNS, 'attributes']);

/** A string field that joi would trim and accept within `max`, trimmed; undefined when joi must decide. */
function trimmed(value: unknown, max: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  return text.length > 0 && text.length <= max ? text : undefined;
}

function fastEmail(value: string): string | undefined {
  const email = value.trim().toLowerCase();
  if (email.length > 254 || !FAST_EMAIL.test(email)) return undefined;
  const at = email.indexOf('@');
  if (at > 64) return undefined;
  for (const label of email.slice(at + 1).split('.')) if (label.length > 63) return undefined;
  return email;
}

function fastAttributes(value: unknown): LeadRecord['attributes'] | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) {
    return undefined;
  }
  const entries = Object.entries(value);
  if (entries.length > LEAD_LIMITS.attributes) return undefined;
  for (const [key, v] of entries) {
    if (key.length === 0 || key.length > 100) return undefined;
    if (typeof v === 'string') {
      if (v.length === 0 || v.length > 2000) return undefined;
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v) || Math.abs(v) > Number.MAX_SAFE_INTEGER || Object.is(v, -0)) return undefined;
    } else if (typeof v !== 'boolean') return undefined;
  }
  return value as LeadRecord['attributes'];
}

/**
 * The common shape of a lead record checked by hand, for imports of millions of rows: the value
 * joi would return, or undefined whenever anything is unusual, and joi decides (and words the
 * problem). It accepts nothing joi refuses and converts as joi does; test/leads/validation.test.ts
 * holds the two to the same verdicts on generated records.
 */
export function fastLeadRecord(record: unknown): LeadRecord | undefined {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return undefined;
  const r = record as Record<string, unknown>;
  for (const key in r) if (!NAMED.has(key)) return undefined;
  const value: LeadRecord = { external_id: '' };
  const externalId = trimmed(r.external_id, LEAD_LIMITS.idLength);
  if (externalId === undefined) return undefined;
  value.external_id = externalId;
  if (r.email !== undefined) {
    const email = typeof r.email === 'string' ? fastEmail(r.email) : undefined;
    if (email === undefined) return undefined;
    value.email = email;
  }
  if (r.phone !== undefined) {
    const phone = typeof r.phone === 'string' ? r.phone.trim() : '';
    if (!PHONE.test(phone)) return undefined;
    value.phone = phone;
  }
  if (value.email === undefined && value.phone === undefined) return undefined;
  for (const field of ['first_name', 'last_name'] as const) {
    if (r[field] === undefined) continue;
    const name = trimmed(r[field], LEAD_LIMITS.nameLength);
    if (name === undefined) return undefined;
    value[field] = name;
  }
  if (r.locale !== undefined) {
    if (typeof r.locale !== 'string' || !LOCALE.test(r.locale)) return undefined;
    value.locale = r.locale;
  }
  if (r.timezone !== undefined) {
    if (typeof r.timezone !== 'string' || r.timezone === '' || !isZone(r.timezone)) return undefined;
    value.timezone = r.timezone;
  }
  if (r.persona !== undefined) {
    if (typeof r.persona !== 'string' || !PERSONA_ID.test(r.persona)) return undefined;
    value.persona = r.persona;
  }
  if (r.tags !== undefined) {
    if (!Array.isArray(r.tags) || r.tags.length > LEAD_LIMITS.tags) return undefined;
    const tags: string[] = [];
    for (const tag of r.tags) {
      const t = trimmed(tag, 100);
      if (t === undefined) return undefined;
      tags.push(t);
    }
    value.tags = tags;
  }
  if (r.attributes !== undefined) {
    const attributes = fastAttributes(r.attributes);
    if (attributes === undefined) return undefined;
    value.attributes = attributes;
  }
  return value;
}

/** The record as joi converts it, or the reasons it refuses it. */
export function checkLeadRecord(record: unknown): { value: LeadRecord } | { errors: string[] } {
  const fast = fastLeadRecord(record);
  if (fast) return { value: fast };
  const { value, error } = leadRecordSchema.validate(record, { abortEarly: false, convert: true });
  return error ? { errors: error.details.map((d) => d.message) } : { value };
}

/**
 * Validates one record; returns the lead or the reasons it was refused. Phones are stored in
 * E.164; a phone that is not a valid number is kept as written, with a warning, and SMS to it are
 * suppressed with `invalid_address`.
 */
export function validateLeadRecord(record: unknown, phoneRegion?: string): { lead: LeadInput; warnings: string[] } | { errors: string[] } {
  const checked = checkLeadRecord(record);
  if ('errors' in checked) return checked;
  const { value } = checked;
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
