import Joi from 'joi';
import { IANAZone } from 'luxon';

/**
 * Schema pieces every file under campaigns/ shares (campaigns, personas.yaml, inbound.yaml), and
 * the joi options that word their messages for the people who write those files.
 */
/** Every limit on marketer files, in one place. */
export const LIMITS = {
  idLength: 64,
  nameLength: 200,
  steps: 20,
  listItems: 100,
  filterKeys: 30,
  personas: 100,
} as const;

export const DURATION = /^[1-9]\d{0,5}[smhdw]$/;
const KEBAB = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
export const HHMM = /^(?:[01]\d|2[0-3]):[0-5]\d$/;

export const id = Joi.string()
  .pattern(KEBAB)
  .max(LIMITS.idLength)
  .messages({ 'string.pattern.base': '{#label} must be lowercase-kebab (letters, digits and single dashes), got {:#value}' });

export const duration = Joi.string()
  .pattern(DURATION)
  .messages({ 'string.pattern.base': '{#label} must be a duration like 30s, 15m, 2h, 3d or 1w, got {:#value}' });

export const timezone = Joi.string().custom((value: string, helpers) =>
  IANAZone.isValidZone(value)
    ? value
    : helpers.message({ custom: `{#label} must be an IANA timezone such as Europe/Berlin, got '${value}'` }),
);

/** Joi's messages, reworded for marketers; labels are the key alone, the position says the rest. */
export const VALIDATION_PREFS: Joi.ValidationOptions = {
  abortEarly: false,
  convert: false,
  errors: { wrap: { label: "'", array: false } },
  messages: {
    'object.unknown': 'unknown key {#label}',
    'any.required': 'missing required key {#label}',
    'any.unknown': '{#label} is not allowed for this kind of campaign',
    'array.unique': '{#label} repeats {:#value}',
    'object.oxor': 'use either {#peersWithLabels} in a schedule, not both',
  },
};
