import Joi from 'joi';
import { EVENT_LIMITS, EVENT_NAME, type EventInput } from './events.ts';
import type { Lead } from './types.ts';
import { LEAD_LIMITS, type LeadRecord } from './validation.ts';

/**
 * Segment's Tracking API (`track`, `identify`, `batch`), as shops and CDPs (Segment, RudderStack,
 * Jitsu) send it, translated into our own inputs: a `track` becomes an event (EventInput) and an
 * `identify` a lead record (LeadRecord); both are then validated and saved by the same code as
 * POST /events and POST /leads, so nothing here bypasses their rules.
 */

/** The message types a batch may hold; those other than track and identify are accepted and ignored. */
export const SEGMENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type SegmentType = (typeof SEGMENT_TYPES)[number];

export interface SegmentMessage {
  type?: SegmentType;
  userId?: string | number;
  anonymousId?: string | number;
  messageId?: string;
  timestamp?: string;
  originalTimestamp?: string;
  context?: { traits?: Record<string, unknown>; locale?: string; timezone?: string } & Record<string, unknown>;
}
export interface SegmentTrack extends SegmentMessage {
  event: string;
  properties: Record<string, unknown>;
}
export interface SegmentIdentify extends SegmentMessage {
  traits: Record<string, unknown>;
}

const personId = Joi.alternatives(Joi.string().trim().min(1).max(LEAD_LIMITS.idLength), Joi.number().integer());
const isoTime = Joi.string().isoDate();

/** The fields every Segment message shares; the spec's other common fields (sentAt, channel, …) are allowed and not read. */
const common = {
  type: Joi.string().valid(...SEGMENT_TYPES),
  userId: personId.description('becomes the lead’s external_id'),
  anonymousId: personId.description('the external_id when there is no userId'),
  messageId: Joi.string().trim().min(1).max(200).description('the idempotency key: a replayed messageId is recorded once'),
  timestamp: isoTime.description('when it happened (default: originalTimestamp, else now)'),
  originalTimestamp: isoTime,
  context: Joi.object({
    traits: Joi.object().description('traits of the person; `email` and `phone` let a track create a lead we do not know'),
    locale: Joi.string(),
    timezone: Joi.string(),
  }).unknown(true),
};

const message = (keys: Record<string, Joi.Schema>) =>
  Joi.object({ ...common, ...keys })
    .or('userId', 'anonymousId')
    .unknown(true)
    .messages({ 'object.missing': 'a message needs a userId or an anonymousId' })
    .prefs({ errors: { wrap: { label: false } } });

export const segmentTrackSchema = message({
  event: Joi.string()
    .trim()
    .min(1)
    .max(EVENT_LIMITS.nameLength)
    .required()
    .description('the event name; `Item Purchased` is recorded as `item_purchased` (see segmentEventName)'),
  properties: Joi.object().max(EVENT_LIMITS.properties).default({}),
});
export const segmentIdentifySchema = message({ traits: Joi.object().default({}) });
/** Anything a batch may hold besides track and identify: only its type is read (it is ignored). */
const segmentOtherSchema = Joi.object({ type: Joi.string().valid('page', 'screen', 'group', 'alias').required() }).unknown(true);

/** What the router checks each batch item with, by type. */
export const SEGMENT_ITEM_SCHEMAS: Record<SegmentType, Joi.ObjectSchema> = {
  track: segmentTrackSchema.keys({ type: Joi.string().valid('track').required() }),
  identify: segmentIdentifySchema.keys({ type: Joi.string().valid('identify').required() }),
  page: segmentOtherSchema,
  screen: segmentOtherSchema,
  group: segmentOtherSchema,
  alias: segmentOtherSchema,
};

/** The batch envelope: its items are checked one by one (SEGMENT_ITEM_SCHEMAS), so a problem names its index. */
export const segmentBatchSchema = Joi.object({
  batch: Joi.array()
    .items(
      Joi.object({
        type: Joi.string()
          .valid(...SEGMENT_TYPES)
          .required(),
      }).unknown(true),
    )
    .min(1)
    .max(EVENT_LIMITS.batch)
    .required(),
  context: Joi.object().unknown(true).description('merged into every message of the batch (a message’s own keys win)'),
})
  .unknown(true)
  .prefs({ errors: { wrap: { label: false } } });

/**
 * Our event name for a Segment event name: lowercase, every run of characters other than letters,
 * digits, `.` and `-` becomes one `_`, and `_` at either end is dropped. `Item Purchased` →
 * `item_purchased`, `Order Completed (v2)` → `order_completed_v2`; a name already in our form is
 * unchanged. Undefined when nothing is left that starts with a letter (`123`, `!!`).
 */
export function segmentEventName(name: string): string | undefined {
  const ours = name
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return EVENT_NAME.test(ours) ? ours.slice(0, EVENT_LIMITS.nameLength) : undefined;
}

const personOf = (m: SegmentMessage) => String(m.userId ?? m.anonymousId);
const occurredAt = (m: SegmentMessage) => m.timestamp ?? m.originalTimestamp;
const text = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);

/** A track as our event (validated afterwards with eventInputSchema, as POST /events does). */
export function trackToEvent(m: SegmentTrack): EventInput {
  const traits = m.context?.traits ?? {};
  const input: EventInput = { lead: personOf(m), event: segmentEventName(m.event) ?? m.event, properties: m.properties };
  if (m.messageId !== undefined) input.id = m.messageId;
  if (occurredAt(m) !== undefined) input.occurred_at = occurredAt(m);
  if (text(traits.email)) input.email = text(traits.email);
  if (text(traits.phone)) input.phone = text(traits.phone);
  return input;
}

/** Segment's reserved traits that are lead fields, by our field name (either spelling is read). */
const FIELD_TRAITS = {
  email: ['email'],
  phone: ['phone'],
  first_name: ['firstName', 'first_name'],
  last_name: ['lastName', 'last_name'],
  locale: ['locale'],
  timezone: ['timezone'],
} as const;
const FIELD_TRAIT_NAMES = new Set<string>([...Object.values(FIELD_TRAITS).flat(), 'name']);

/**
 * An identify as a lead record (validated afterwards with validateLeadRecord, as POST /leads
 * does). Identify sets the traits it names and leaves the others, so the record starts from the
 * lead we know (`known`); tags and persona are kept. `name` fills first and last name when
 * neither is given (split at the first space); `context.locale` and `context.timezone` apply when
 * the traits name none. Every other trait becomes an attribute: nested objects (`address`) as
 * dotted keys (`address.city`) up to TRAIT_DEPTH levels; null, arrays and deeper objects are not
 * stored (attributes hold scalars).
 */
export function identifyToRecord(m: SegmentIdentify, known: Omit<Lead, 'id'> | undefined): LeadRecord {
  const traits: Record<string, unknown> = { ...m.context?.traits, ...m.traits };
  const record: LeadRecord = { external_id: personOf(m) };
  const field = (name: keyof typeof FIELD_TRAITS) => FIELD_TRAITS[name].map((t) => traits[t]).find((v) => v !== undefined && v !== null);
  const set = (name: keyof typeof FIELD_TRAITS, fallback: unknown) => {
    const value = field(name) ?? fallback;
    if (value !== undefined && value !== null) record[name] = value as string;
  };
  const [first, ...rest] = typeof traits.name === 'string' ? traits.name.trim().split(/\s+/) : [];
  const named = field('first_name') === undefined && field('last_name') === undefined && first;
  set('email', known?.email);
  set('phone', known?.phone);
  set('first_name', named ? first : known?.firstName);
  set('last_name', named ? rest.join(' ') || undefined : known?.lastName);
  set('locale', m.context?.locale ?? known?.locale);
  set('timezone', m.context?.timezone ?? known?.timezone);
  if (known?.persona) record.persona = known.persona;
  if (known && known.tags.length > 0) record.tags = known.tags;
  const attributes = flatten(Object.fromEntries(Object.entries(traits).filter(([key]) => !FIELD_TRAIT_NAMES.has(key))));
  if (Object.keys(attributes).length > 0) record.attributes = attributes;
  return record;
}

/** Levels of nested traits read (`address.geo.lat` is 3): a body may nest thousands deep, and attributes are flat facts. */
const TRAIT_DEPTH = 4;

function flatten(values: Record<string, unknown>, prefix = '', depth = 1): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(values)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[prefix + key] = value;
    else if (value !== null && typeof value === 'object' && !Array.isArray(value) && depth < TRAIT_DEPTH) {
      Object.assign(out, flatten(value as Record<string, unknown>, `${prefix}${key}.`, depth + 1));
    }
  }
  return out;
}

/** A batch item with the batch's context merged under its own (Segment's rule for batch-level fields). */
export function withBatchContext<T extends SegmentMessage>(item: T, context: Record<string, unknown> | undefined): T {
  return context ? { ...item, context: { ...context, ...item.context } } : item;
}
