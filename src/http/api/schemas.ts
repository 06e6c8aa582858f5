import Joi from 'joi';
import { evidenceSchema } from '../../consent/evidence.ts';
import { OCCURRED_AT_TOLERANCE } from '../../consent/state.ts';
import { NOTE_MAX } from '../../inbound/notes.ts';
import { CONTACT_STATUSES } from '../../inbound/schema.ts';
import { EVENT_LIMITS, eventInputSchema } from '../../leads/events.ts';
import { ACCESS_REQUEST_FORMATS } from '../../leads/access-request.ts';
import { segmentBatchSchema, segmentIdentifySchema, segmentTrackSchema } from '../../leads/segment.ts';
import { leadRecordSchema } from '../../leads/validation.ts';
import { MESSAGE_STATUSES } from '../../messages/schema.ts';
import { id } from '../../yaml/schema.ts';

/**
 * Every joi schema that checks an API request, in one place: the routers validate with these
 * objects, and the OpenAPI document (../openapi/document.ts) is converted from the same objects,
 * so the description cannot drift from what is accepted.
 */

// ---- path parameters (express matches them; the document describes them with these)
export const campaignIdParam = id;
export const externalIdParam = leadRecordSchema.extract('external_id');
/** Inbound contact ids; anything else, and ids outside the key's reach, answer 404. */
export const contactIdParam = Joi.number().integer().min(1);

// ---- campaigns
const occurrence = Joi.string().trim().min(1).max(200);
export const runBody = Joi.object({
  occurrence: occurrence.description(
    'what makes this run’s messages unique: the same occurrence never sends a step twice. Default: the campaign’s own (`once` for a one-shot campaign, the latest firing for a cron one); name a new one to send again deliberately',
  ),
});
export const retryBody = Joi.object({
  step: id.description('only this step'),
  reason: Joi.string().trim().min(1).max(100).description('only failures with this reason: render_error, rejected, attempts_exhausted'),
  skip: Joi.boolean().default(false).description('move the people past their failed step instead of recording it again'),
});
export const sendTestBody = Joi.object({
  step: id.required().description('the step whose message is sent'),
  lead: Joi.string().trim().min(1).max(200).description('render for this lead (external id): its data, persona and locale'),
  persona: id.description('render for this persona with sample data'),
  locale: Joi.string().trim().min(1).max(35).description('with `persona`: the locale to render'),
  to: Joi.string()
    .trim()
    .min(3)
    .max(320)
    .required()
    .description("where the test goes: a Touchpoint user's own email address, or an address or phone number on TEST_RECIPIENTS"),
})
  .xor('lead', 'persona')
  .with('locale', 'persona');
export const reportQuery = Joi.object({ occurrence: occurrence.description('default: every occurrence') });

// ---- leads
export const LEAD_BATCH = 1000;
/**
 * What POST /leads accepts. The router checks the count itself and validates each record with
 * `leadRecordSchema`, so that problems are named by their index; this schema is what it documents.
 */
export const leadsBody = Joi.alternatives(leadRecordSchema, Joi.array().items(leadRecordSchema).min(1).max(LEAD_BATCH));

// ---- events
export const eventsBody = Joi.alternatives(eventInputSchema, Joi.array().items(eventInputSchema).min(1).max(EVENT_LIMITS.batch)).messages({
  'alternatives.match': `send one event object or an array of 1 to ${EVENT_LIMITS.batch}`,
});

// ---- Segment's Tracking API (leads/segment.ts); batch items are checked one by one, by type
export const segmentTrackBody = segmentTrackSchema;
export const segmentIdentifyBody = segmentIdentifySchema;
export const segmentBatchBody = segmentBatchSchema;

// ---- messages
export const messagesQuery = Joi.object({
  campaign: Joi.string(),
  status: Joi.string().valid(...MESSAGE_STATUSES),
  before: Joi.number().integer().min(1).description('only messages with a smaller id: the `next` of the previous page'),
  limit: Joi.number().integer().min(1).max(500).default(100),
});

// ---- inbound
const user = Joi.string().email({ tlds: false });
export const inboundQuery = Joi.object({
  status: Joi.string().valid(...CONTACT_STATUSES, 'open'),
  queue: Joi.string(),
  lead: Joi.string(),
  automatic: Joi.boolean().default(false),
  q: Joi.string()
    .trim()
    .min(1)
    .max(200)
    .description(
      'words in the subject or text, as a web search (`"a phrase"`, `or`, `-without`), German and English stems; within reach only',
    ),
  limit: Joi.number().integer().min(1).max(1000).default(200),
});
export const accessRequestQuery = Joi.object({
  format: Joi.string()
    .valid(...ACCESS_REQUEST_FORMATS)
    .default('json')
    .description('`zip`: summary.txt, access-request.json and one text file per message'),
});
export const repeatsQuery = Joi.object({
  from: Joi.date().iso().description('default: 30 days before `to`'),
  to: Joi.date().iso().greater(Joi.ref('from')).description('after `from` (exclusive; default: now)'),
});
export const acceptBody = Joi.object({ user });
export const replyBody = Joi.object({
  text: Joi.string().trim().min(1).max(20_000).required(),
  subject: Joi.string().max(300),
  channel: Joi.string().valid('email', 'sms'),
  user,
});
export const assignBody = Joi.object({ user, queue: Joi.string() }).or('user', 'queue');
export const closeBody = Joi.object({
  resolution: Joi.string().trim().min(1).max(2000).required(),
  /** Flags a sales opportunity seen while closing: emits `sales_opportunity` {note, product}. */
  sales_opportunity: Joi.object({
    note: Joi.string().trim().min(1).max(2000).required(),
    product: Joi.string().trim().min(1).max(200),
  }),
  user,
});
export const optOutBody = Joi.object({ user });
export const noteBody = Joi.object({ text: Joi.string().trim().min(1).max(NOTE_MAX).required(), user });
/** Canned answer names: the file names under templates/replies/ without locale and extension. */
export const cannedNameParam = Joi.string().pattern(/^[a-z0-9][a-z0-9-]{0,99}$/);
export const cannedQuery = Joi.object({ user });
export const serviceLevelsQuery = Joi.object({
  from: Joi.date().iso().description('start of the period (contacts received from then); default: 30 days before `to`'),
  to: Joi.date().iso().description('end of the period (exclusive); default: now'),
});

// ---- consents
const channel = Joi.string().valid('email', 'sms');
const purpose = Joi.string().pattern(/^[a-z][a-z0-9_-]*$/);
export const consentBody = Joi.object({
  lead: Joi.string().required(),
  channel: channel.required(),
  purpose: purpose.required(),
  action: Joi.string().valid('grant', 'withdraw').required(),
  source: Joi.string().max(100).default('api'),
  occurred_at: Joi.date()
    .iso()
    .description(
      `when the person decided (default: now): at most ${OCCURRED_AT_TOLERANCE.pastMs / 60_000} minutes before now and ` +
        `${OCCURRED_AT_TOLERANCE.futureMs / 60_000} minute after; older history goes through \`consent import\``,
    ),
  evidence: evidenceSchema.default({}),
  notice: Joi.object({ version: Joi.string().max(100).required(), text: Joi.string().max(100_000).required() }),
});
export const consentCheckQuery = Joi.object({
  lead: Joi.string().required(),
  channel: channel.required(),
  purpose: purpose.required(),
  at: Joi.date().iso().description('the instant asked about (default: now)'),
});
export const proofQuery = Joi.object({ lead: Joi.string().required(), format: Joi.string().valid('json', 'csv').default('json') });
export const exportQuery = Joi.object({
  from: Joi.date().iso().required(),
  to: Joi.date().iso().greater(Joi.ref('from')).required().description('after `from` (exclusive)'),
  format: Joi.string().valid('csv', 'jsonl').default('csv'),
});
