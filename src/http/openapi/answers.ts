import type { Plan, PlannedMessage } from '../../campaigns/plan.ts';
import { BOUNCE_OUTCOMES, type BounceSource } from '../../deliverability/schema.ts';
import type { BounceFigures, Figures, OccurrenceFigures } from '../../campaigns/report.ts';
import type { RunCounts } from '../../campaigns/run.ts';
import type { Campaign, Step } from '../../campaigns/types.ts';
import { CHANNELS } from '../../channels/channel.ts';
import type { ConsentAnswer, LedgerEvent } from '../../consent/check.ts';
import type { ExportedEvent, Proof, ProofEvent, ProofMessage } from '../../consent/proof.ts';
import { OCCURRED_AT_TOLERANCE, type ConsentAction, type RefusalReason } from '../../consent/state.ts';
import type { ChainReport } from '../../consent/verify.ts';
import type { CannedAnswer, RenderedAnswer } from '../../inbound/canned.ts';
import type { ContactDetail, ContactSummary } from '../../inbound/contacts.ts';
import type { QueueServiceLevel } from '../../inbound/sla.ts';
import type { ContactKind } from '../../inbound/receive.ts';
import { CONTACT_CATEGORIES, CONTACT_STATUSES, IDENTIFICATIONS, PRIORITIES, TRUST_LEVELS } from '../../inbound/schema.ts';
import type { AccessBundle, AccessRequestRecord, ContactBundle } from '../../leads/access-request.ts';
import type { TimelineEntry } from '../../leads/timeline.ts';
import type { ListedMessage } from '../../messages/list.ts';
import { MESSAGE_STATUSES } from '../../messages/schema.ts';
import type { IngestResult } from '../../sequences/triggers.ts';
import type { Problem } from '../../yaml/problems.ts';
import type { JsonSchema } from './joi.ts';

/**
 * The answers of /api/v1 as JSON Schema, written by hand (the code that builds them is plain
 * TypeScript, not joi). Closed objects list every property and require every one that is always
 * there, so a renamed, missing or extra field fails test/http/openapi.test.ts; where a TypeScript
 * type of the answering code exists, the compiler also checks the property names against it.
 * Maps whose keys are data (attributes, properties, evidence, counts by reason) are marked
 * `x-free-form`: their keys need not be snake_case.
 */

// ---- building blocks

const string: JsonSchema = { type: 'string' };
const integer: JsonSchema = { type: 'integer' };
const number: JsonSchema = { type: 'number' };
const count: JsonSchema = { type: 'integer', minimum: 0 };
const boolean: JsonSchema = { type: 'boolean' };
const dateTime: JsonSchema = { type: 'string', format: 'date-time' };
const channel: JsonSchema = { type: 'string', enum: [...CHANNELS] };

export const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

/** `schema`, or null. */
function orNull(schema: JsonSchema): JsonSchema {
  if (typeof schema.type === 'string' && !schema.$ref) {
    return { ...schema, type: [schema.type, 'null'], ...(Array.isArray(schema.enum) ? { enum: [...schema.enum, null] } : {}) };
  }
  return { anyOf: [schema, { type: 'null' }] };
}

const array = (items: JsonSchema): JsonSchema => ({ type: 'array', items });

/** A map whose keys are data (not field names): exempt from the snake_case rule. */
function freeForm(description: string, values?: JsonSchema, keys?: JsonSchema): JsonSchema {
  return {
    type: 'object',
    description,
    'x-free-form': true,
    ...(keys ? { propertyNames: keys } : {}),
    additionalProperties: values ?? true,
  };
}

/** A closed object: exactly these properties, each required unless named in `optional`. */
export function object(properties: Record<string, JsonSchema>, optional: readonly string[] = [], description?: string): JsonSchema {
  return {
    type: 'object',
    ...(description ? { description } : {}),
    required: Object.keys(properties).filter((p) => !optional.includes(p)),
    properties,
    additionalProperties: false,
  };
}

/** Every property of the TypeScript type `T`, each with its schema (the compiler checks the names). */
type Properties<T> = { [K in keyof T]-?: JsonSchema };

/**
 * The members of a string union, listed once: the compiler refuses a list that misses one or holds
 * one too many, so an enum here cannot drift from the type of the code that answers.
 */
const members =
  <U extends string>() =>
  <const L extends readonly U[]>(list: L & ([Exclude<U, L[number]>] extends [never] ? unknown : { missing: Exclude<U, L[number]> })) =>
    [...list] as U[];

const refusalReasons = members<RefusalReason>()(['no_consent', 'unconfirmed', 'withdrawn']);
const consentActions = members<ConsentAction>()(['grant', 'confirm', 'withdraw']);
const planReasons = members<Plan['suppressed'][number]['reason']>()([
  'no_consent',
  'unconfirmed',
  'withdrawn',
  'bounced',
  'no_address',
  'invalid_address',
  'no_template',
  'frequency_cap',
  'render_error',
  'already_sent',
  'in_sequence',
]);
const consentStatuses = members<ConsentAnswer['status']>()(['granted', 'confirmed', 'withdrawn', 'none']);
const contactKinds = members<ContactKind>()(['human', 'auto-reply', 'bounce']);

// ---- campaigns

const filter = freeForm(
  'attribute filters as written in the campaign file: attribute → value, or {in: [...]}, {gt|gte|lt|lte: n}, {exists: bool}',
);
const duration: JsonSchema = { type: 'string', pattern: '^[1-9]\\d{0,5}[smhdw]$' };

const stepProperties: Properties<Step> = {
  id: string,
  channel: { type: 'string', enum: ['email', 'sms', 'preferred'] },
  template: string,
  wait: duration,
  unless: array({ type: 'string', enum: ['replied', 'goal', 'opened'] }),
};

const campaignProperties: Properties<Omit<Campaign, 'file'>> = {
  id: string,
  name: string,
  kind: { type: 'string', enum: ['lead', 'event'] },
  purpose: string,
  audience: object({ personas: array(string), tags: array(string), where: filter }, ['personas', 'tags', 'where']),
  schedule: object({ at: string, cron: string, timezone: string }, ['at', 'cron', 'timezone']),
  send_window: object({ from: string, to: string }),
  frequency_cap: object({ max: integer, per: duration, on_cap: { type: 'string', enum: ['defer', 'skip'] } }, ['on_cap']),
  reply_queue: string,
  goal: object({ event: string }),
  trigger: object({ event: string, where: filter }, ['where']),
  reentry: { anyOf: [{ type: 'string', enum: ['never', 'always'] }, object({ after: duration })] },
  exit_on: array(string),
  steps: array(object(stepProperties, ['wait', 'unless'])),
};

const problemProperties: Properties<Problem> = {
  file: { type: 'string', description: 'relative to the campaigns folder' },
  line: integer,
  col: integer,
  message: string,
  severity: { type: 'string', enum: ['error', 'warning'] },
};

const plannedProperties: Properties<PlannedMessage> = {
  lead: string,
  step: string,
  channel,
  persona: string,
  template: string,
  send_at: { ...dateTime, description: "the recipient's local time, with its offset" },
  encoding: { type: 'string', enum: ['GSM-7', 'UCS-2'] },
  segments: count,
};

const planProperties: Properties<Plan> = {
  campaign: string,
  recipients: array(object(plannedProperties, ['encoding', 'segments'], 'encoding and segments for SMS only')),
  suppressed: array(
    object(
      { lead: string, step: string, reason: { type: 'string', enum: planReasons }, detail: string },
      ['detail'],
      'detail: why rendering failed',
    ),
  ),
  sms: object({ messages: count, segments: count }),
};

const runCounts: Properties<RunCounts> = {
  audience: count,
  enrolled: count,
  queued: count,
  suppressed: count,
  failed: count,
  existing: count,
};

const counts = (of: string) => freeForm(`message counts by ${of}`, count);

/** What a campaign's messages did, in one split of its report (campaigns/report.ts). */
const figureProperties: Properties<Figures> = {
  recorded: count,
  sent: count,
  delivered: { ...count, description: 'email accepted by the SMTP server; SMS reported delivered by Twilio' },
  failed: counts('failure reason'),
  suppressed: counts('suppression reason'),
  replies: freeForm('replies by category (human) or kind (auto-reply, bounce)', count),
  opt_outs: { ...count, description: 'withdrawals through the message’s unsubscribe link, preference page or an opt-out reply to it' },
  conversions: { ...count, description: 'sent messages followed by the campaign’s goal event within its window (default 7d)' },
  spam_complaints: {
    ...count,
    description: 'spam complaints about its messages: abuse reports (RFC 5965) from mailbox providers’ feedback loops',
  },
  bounces: object(
    { hard: count, soft: count } satisfies Properties<BounceFigures>,
    [],
    'emails that bounced, hard and soft (each message once per kind)',
  ),
};
const occurrenceProperties: Properties<OccurrenceFigures> = {
  occurrence: string,
  recorded: count,
  sent: count,
  delivered: count,
  failed: count,
  suppressed: count,
};

// ---- leads

const timelineDetail = {
  event: object({ properties: freeForm("the event's properties as sent") }),
  message: object({
    channel,
    status: { type: 'string', enum: [...MESSAGE_STATUSES] },
    reason: orNull(string),
    error: orNull({ ...string, description: 'the error itself when it failed or its last attempt did' }),
    subject: orNull(string),
    template: orNull(string),
    sent_at: orNull(dateTime),
    consent_event: orNull({ ...integer, description: 'the consent event that allowed it (null: none was needed or it was not sent)' }),
    consent_action: orNull({ type: 'string', enum: consentActions }),
  }),
  consent: object({ id: integer, channel, purpose: string, source: string }),
  bounce: object({
    message: integer,
    source: { type: 'string', enum: members<BounceSource>()(['dsn', 'smtp']) },
    action: orNull({ ...string, description: 'the delivery report’s Action (null for a refusal while sending)' }),
    status: orNull({ ...string, description: 'the enhanced status code, e.g. 5.1.1' }),
    diagnostic: orNull({ ...string, description: 'the receiving server’s words' }),
  }),
  reply: object(
    {
      contact: integer,
      kind: { type: 'string', enum: contactKinds },
      category: { type: 'string', enum: [...CONTACT_CATEGORIES] },
      status: { type: 'string', enum: [...CONTACT_STATUSES] },
      subject: orNull({
        ...string,
        description: 'null unless the key may read this reply (its role works replies, and the reply is within its reach)',
      }),
      campaign: orNull(string),
      text: orNull({ ...string, description: 'the first 500 characters; null unless the key may read this reply, as for `subject`' }),
    },
    [],
  ),
};
const timelineWhat = {
  event: { ...string, description: 'the event name' },
  message: { ...string, description: 'campaign/step' },
  consent: { type: 'string', enum: consentActions },
  reply: { ...channel, description: 'the channel of the reply' },
  bounce: { type: 'string', enum: [...BOUNCE_OUTCOMES], description: 'hard or soft bounce, or a report of delivery' },
};
const timelineEntry: JsonSchema = {
  oneOf: (['event', 'message', 'consent', 'reply', 'bounce'] as const satisfies readonly TimelineEntry['kind'][]).map((kind) =>
    object({
      at: dateTime,
      kind: { const: kind },
      what: timelineWhat[kind],
      detail: timelineDetail[kind],
    } satisfies Properties<TimelineEntry>),
  ),
};

// ---- events

const ingestProperties: Properties<Omit<IngestResult, 'rejected'>> = {
  recorded: count,
  duplicates: count,
  enrolled: count,
  exited: count,
  converted: count,
  queued: count,
  suppressed: count,
  failed: count,
};
const segmentProperties = {
  identified: { ...count, description: 'identify messages saved' },
  created: { ...count, description: 'leads created by them' },
  ignored: { ...count, description: 'page, screen, group and alias messages of a batch' },
};
const rejected = array(object({ index: { ...count, description: 'position in the batch (0 for a single event)' }, reason: string }));

// ---- messages

const messageProperties: Properties<ListedMessage> = {
  id: integer,
  lead: { ...string, description: "the lead's external_id" },
  campaign: string,
  step: string,
  occurrence: string,
  channel,
  persona: string,
  template: orNull(string),
  status: { type: 'string', enum: [...MESSAGE_STATUSES] },
  reason: orNull({ ...string, description: 'why it was suppressed or failed' }),
  error: orNull({
    ...string,
    description: 'the error itself: why it failed (a render error names the template and the variable), or why its last attempt did',
  }),
  consent_event: orNull({ ...integer, description: 'id of the ledger event that allowed it' }),
  to: orNull(string),
  subject: orNull(string),
  attempts: count,
  possible_duplicate: boolean,
  provider_id: orNull(string),
  created_at: dateTime,
  sent_at: orNull(dateTime),
};

// ---- inbound

const contactSummaryProperties: Properties<ContactSummary> = {
  id: integer,
  lead: orNull({ ...string, description: "the lead's external_id; null while unidentified" }),
  campaign: orNull(string),
  step: orNull(string),
  channel,
  kind: { type: 'string', enum: contactKinds },
  category: { type: 'string', enum: [...CONTACT_CATEGORIES] },
  priority: { type: 'string', enum: [...PRIORITIES] },
  queue: orNull(string),
  status: { type: 'string', enum: [...CONTACT_STATUSES] },
  assignee: orNull({ ...string, description: "the assignee's email" }),
  due_at: orNull(dateTime),
  overdue: boolean,
  escalated_at: orNull(dateTime),
  received_at: dateTime,
  from: string,
  subject: orNull(string),
  text: { ...string, description: 'the new part of the reply (quoted history removed)' },
  identified_by: orNull({
    type: 'string',
    enum: [...IDENTIFICATIONS],
    description:
      'how the sender was recognised: reply token, our Message-ID in the headers, header From address, envelope sender, phone number; null when unidentified',
  }),
  trust: orNull({
    type: 'string',
    enum: [...TRUST_LEVELS],
    description:
      'verified: our signed reply token or Message-ID, or a text from the number on file answering our last text to it; ' +
      'unverified: only a sender address or number, which anyone can claim (it changes no consent by itself); null when unidentified',
  }),
};

const contactDetailProperties: Properties<ContactDetail> = {
  ...contactSummaryProperties,
  envelope_from: orNull({ ...string, description: 'the SMTP envelope sender, when it differs from `from`' }),
  answer_to: object(
    { email: orNull(string), sms: orNull(string) },
    [],
    'where an answer goes on each channel: the address on file of an identified person (never merely the address a reply came from), ' +
      'else the unidentified sender’s own address on their channel; null where there is none',
  ),
  body_text: string,
  lead_id: orNull(integer),
  lead_name: orNull(string),
  assignee_id: orNull(integer),
  escalated_to: orNull({ ...integer, description: 'id of the user it was escalated to' }),
  resolution: orNull(string),
  sentiment: orNull({
    type: 'number',
    description: 'how the reply feels, from -1 (negative) to 1 (positive), by a German or English lexicon',
  }),
  csat: orNull(
    object(
      { score: integer, comment: orNull(string), via: { type: 'string', enum: ['link', 'email', 'sms'] }, answered_at: dateTime },
      [],
      'the satisfaction answer (1–5) about this contact; a second answer replaces the first',
    ),
  ),
  original: orNull(
    object(
      { id: integer, subject: orNull(string), text: orNull(string), sent_at: orNull(dateTime), template: orNull(string) },
      [],
      'the campaign message this answers',
    ),
  ),
  repeat_of: orNull({ ...integer, description: "a repeat contact: the person's earlier contact of the same category (within 14 days)" }),
  follow_ups: array(
    object(
      { at: dateTime, channel, from: string, subject: orNull(string), text: string, body_text: string },
      [],
      "the person's later messages on this contact (a reply on the same matter joins it), oldest first",
    ),
  ),
  history: array(
    object({
      action: string,
      actor: string,
      detail: { type: 'object', description: 'what the action changed (its keys depend on the action)' },
      at: dateTime,
    }),
  ),
  notes: array(
    object(
      { author: { ...string, description: 'who wrote it: `user:<email>` or `key:<name> for <email>`' }, at: dateTime, text: string },
      [],
      'an internal note: for the team, never sent to the person',
    ),
  ),
  timeline: array(ref('TimelineEntry')),
};

const durations = (what: string): JsonSchema =>
  object(
    { count, median_minutes: orNull(number), p90_minutes: orNull(number) },
    [],
    `${what}, in minutes, over the contacts that got there (count); null when none did`,
  );

const serviceLevelProperties: Properties<QueueServiceLevel> = {
  queue: string,
  contacts: { ...count, description: 'contacts people wrote, received in the period' },
  first_response: durations('from receipt until accepted or first answered'),
  resolution: durations('from receipt until closed'),
  breaches: { ...count, description: 'answered after their due time, or unanswered and past it at the end of the period' },
  unanswered: count,
  open: count,
};

const cannedAnswerProperties: Properties<CannedAnswer> = {
  name: string,
  locales: array({ ...string, description: 'a language it has a variant in besides the locale-free one' }),
};

const renderedAnswerProperties: Properties<RenderedAnswer> = {
  name: string,
  locale: orNull({ ...string, description: 'the variant used; null for the locale-free one' }),
  text: { ...string, description: 'the text for the reply form: edit it, then send it with the reply route' },
};

// ---- consent

const ledgerEventProperties: Properties<LedgerEvent> = {
  id: integer,
  action: { type: 'string', enum: consentActions },
  channel,
  purpose: string,
  source: string,
  actor: string,
  evidence: freeForm('what a regulator asks for, as recorded: ip, user_agent, form, confirmation details …'),
  notice_version: orNull(string),
  notice_hash: orNull({ ...string, description: 'SHA-256 of the notice text' }),
  occurred_at: dateTime,
  recorded_at: dateTime,
  hash: string,
};

const consentCheck: JsonSchema = {
  ...object(
    {
      lead: string,
      channel,
      purpose: string,
      at: dateTime,
      allowed: boolean,
      status: { type: 'string', enum: consentStatuses },
      reason: { type: 'string', enum: refusalReasons },
      deciding_event: orNull(ref('LedgerEvent')),
      recorded_later: {
        ...boolean,
        description: 'the deciding event was recorded after `at`: the ledger did not hold it at that instant (history imported later)',
      },
    } satisfies Properties<ConsentAnswer & { lead: unknown; channel: unknown; purpose: unknown; at: unknown }>,
    ['reason'],
  ),
  if: { properties: { allowed: { const: false } } },
  then: { required: ['reason'] },
  else: { not: { required: ['reason'] } },
};

const proofEventProperties: Properties<ProofEvent> = {
  ...ledgerEventProperties,
  notice: {
    ...orNull({
      oneOf: [
        object({ version: string, locale: string, text: string }, [], 'the stored notice text whose SHA-256 the event holds'),
        object({ version: string, unknown: { const: true } }, [], 'the version is not in the notice store (or its text is not)'),
      ],
    }),
    description: 'what the person was shown; null when the event names no notice',
  },
  recorded_later: {
    ...boolean,
    description:
      `recorded more than ${OCCURRED_AT_TOLERANCE.pastMs / 60_000} minutes after it happened ` +
      '(imported history, or a withdrawal carried over from an erased record)',
  },
};

const chainProperties: Properties<ChainReport> = {
  checked: count,
  broken: object({ id: integer, reason: string }, [], 'the first event that does not verify; absent when the chain holds'),
  head: object({ id: integer, hash: string }, [], 'the last event and its seal'),
};

const proofMessageProperties: Properties<ProofMessage> = {
  id: integer,
  campaign: string,
  step: string,
  channel,
  purpose: string,
  status: { type: 'string', enum: [...MESSAGE_STATUSES] },
  reason: orNull(string),
  sent_at: orNull(dateTime),
  created_at: dateTime,
  consent_event: orNull(object({ id: integer, action: { type: 'string', enum: consentActions }, source: string, occurred_at: dateTime })),
};

const proofProperties: Properties<Proof> = {
  lead: object({ external_id: string, email: orNull(string), phone: orNull(string), erased: boolean }),
  generated_at: dateTime,
  chain: object(chainProperties, ['broken', 'head']),
  consent_events: array(ref('ProofConsentEvent')),
  messages: array(object(proofMessageProperties)),
};

/** A lead's own fields, as the API takes and answers them. */
const leadFieldProperties = {
  external_id: string,
  email: orNull(string),
  phone: orNull(string),
  first_name: orNull(string),
  last_name: orNull(string),
  locale: orNull(string),
  timezone: orNull(string),
  persona: orNull(string),
  tags: array(string),
};

const accessRequestProperties: Properties<AccessRequestRecord> = {
  id: integer,
  requested_by: string,
  format: string,
  requested_at: dateTime,
};

const contactBundleProperties: Properties<ContactBundle> = {
  id: integer,
  channel,
  kind: string,
  from_address: string,
  to_address: orNull(string),
  subject: orNull(string),
  text: string,
  body_text: string,
  language: orNull(string),
  sentiment: orNull(number),
  category: string,
  status: string,
  resolution: orNull(string),
  campaign: orNull(string),
  received_at: dateTime,
  closed_at: orNull(dateTime),
  messages: array(
    object({ id: integer, channel, from_address: string, subject: orNull(string), text: string, body_text: string, received_at: dateTime }),
  ),
  history: array(object({ action: string, actor: string, detail: freeForm('what the entry records (a note: its text)'), at: dateTime })),
};

const accessBundleProperties: Properties<AccessBundle> = {
  format: { const: 'touchpoint-access-request/1' },
  generated_at: dateTime,
  request: object(accessRequestProperties),
  summary: { ...array(string), description: 'the bundle in sentences, for the person to read' },
  lead: object({
    ...leadFieldProperties,
    attributes: freeForm('attributes as imported'),
    created_at: dateTime,
    updated_at: dateTime,
  }),
  events: array(
    object({
      id: integer,
      event_key: orNull(string),
      name: string,
      properties: freeForm('as reported'),
      occurred_at: dateTime,
      received_at: dateTime,
    }),
  ),
  enrollments: array(
    object({
      id: integer,
      campaign: string,
      occurrence: string,
      status: string,
      current_step: orNull(string),
      next_due_at: orNull(dateTime),
      exit_reason: orNull(string),
      enrolled_at: dateTime,
      converted_at: orNull(dateTime),
      replied_at: orNull(dateTime),
      finished_at: orNull(dateTime),
    }),
  ),
  messages: array(
    object({
      id: integer,
      campaign: string,
      step: string,
      occurrence: string,
      channel,
      purpose: string,
      template: orNull(string),
      status: { type: 'string', enum: [...MESSAGE_STATUSES] },
      reason: orNull(string),
      to_address: orNull(string),
      subject: orNull(string),
      body_text: orNull(string),
      body_html: orNull(string),
      headers: freeForm('the message headers', string),
      delivery_status: orNull(string),
      created_at: dateTime,
      sent_at: orNull(dateTime),
    }),
  ),
  contacts: array(object(contactBundleProperties)),
  csat_answers: array(object({ contact_id: integer, score: integer, comment: orNull(string), via: string, answered_at: dateTime })),
  consent: ref('ConsentProof'),
  access_requests: array(object(accessRequestProperties)),
};

const exportedProperties: Properties<ExportedEvent> = { ...ledgerEventProperties, lead: string, prev_hash: string };

// ---- errors

/** The properties of every error answer (see errorHandler in ../app.ts). */
export const errorProperties = {
  error: string,
  message: string,
  details: array(string),
};

/** The named schemas of the document (components.schemas). */
export const answerSchemas: Record<string, JsonSchema> = {
  CampaignList: object({ campaigns: array(ref('Campaign')), problems: array(ref('CampaignProblem')) }),
  Campaign: object(campaignProperties, [
    'audience',
    'schedule',
    'send_window',
    'frequency_cap',
    'reply_queue',
    'goal',
    'trigger',
    'reentry',
    'exit_on',
  ]),
  CampaignProblem: object(problemProperties),
  Plan: object(planProperties),
  RetryDone: object({
    campaign: string,
    retried: { ...count, description: 'failed steps recorded again' },
    skipped: { ...count, description: 'people moved past their failed step (`skip`)' },
    resent: { ...count, description: 'messages the provider refused for good or that ran out of attempts, queued to be sent again' },
    queued: count,
    suppressed: count,
    failed: { ...count, description: 'failed again: those people stay held' },
  }),
  TestSent: object({
    id: { ...integer, description: 'the test send on record' },
    campaign: string,
    step: string,
    channel,
    template: string,
    persona: string,
    locale: orNull(string),
    lead: { ...orNull(string), description: 'the lead rendered for; null: a persona with sample data' },
    to: string,
    subject: { ...string, description: 'with its [TEST] mark; empty for SMS' },
    provider_id: orNull(string),
  }),
  RunStarted: object({ run: integer, campaign: string, occurrence: string, counts: object(runCounts) }),
  Report: object({
    campaign: string,
    occurrence: { ...orNull(string), description: 'the occurrence reported on; null: all of them' },
    occurrences: array(object(occurrenceProperties)),
    steps: array(object({ step: string, ...figureProperties })),
    by_persona: array(object({ persona: string, ...figureProperties })),
    by_channel: array(object({ channel: string, ...figureProperties })),
    by_day: array(
      object({
        day: { type: 'string', format: 'date', description: 'UTC day of the send (of the recording while unsent)' },
        ...figureProperties,
      }),
    ),
    emotion: array(
      object(
        {
          step: string,
          replies: { ...count, description: 'human replies to the step with words to score' },
          sentiment: orNull({ type: 'number', description: 'their average sentiment, -1 (negative) … 1 (positive)' }),
          csat_answers: { ...count, description: 'satisfaction answers about contacts that replied to the step' },
          csat: orNull({ type: 'number', description: 'their average score, 1 … 5' }),
        },
        [],
        'the emotion curve: per step with replies',
      ),
    ),
    repeat_rate: ref('RepeatFigure'),
    complaint_rate: object(
      {
        complaints: count,
        sent: { ...count, description: 'email messages sent (complaints come only from email)' },
        rate: orNull({ type: 'number', description: 'complaints / sent; null before anything was sent' }),
        level: {
          type: 'string',
          enum: ['ok', 'warning', 'alert'],
          description: 'warning above 0.1 %, alert above 0.3 % (mailbox providers’ limit for bulk senders)',
        },
      },
      [],
      'spam complaints per email message sent',
    ),
  }),
  RepeatFigure: object(
    { contacts: integer, repeats: integer, rate: orNull({ type: 'number', description: 'repeats / contacts; null without contacts' }) },
    [],
    'contacts opened and how many of them were repeat contacts (the same person and category within 14 days of an earlier one)',
  ),
  RepeatReport: object({
    from: dateTime,
    to: dateTime,
    by_queue: array(object({ queue: string, contacts: integer, repeats: integer, rate: orNull({ type: 'number' }) })),
    by_campaign: array(object({ campaign: string, contacts: integer, repeats: integer, rate: orNull({ type: 'number' }) })),
  }),
  CsatReport: object(
    Object.fromEntries(
      (['queue', 'agent', 'campaign'] as const).map((dimension) => [
        dimension,
        array(
          object({
            key: {
              ...orNull(string),
              description: `the ${dimension === 'agent' ? 'agent’s login' : `${dimension} id`}; null for contacts without one`,
            },
            surveyed: { ...count, description: 'contacts surveyed' },
            answered: { ...count, description: 'of them answered' },
            response_rate: { type: 'number', minimum: 0, maximum: 1, description: 'answered / surveyed' },
            average: orNull({ type: 'number', description: 'mean score, 1 … 5' }),
            distribution: { ...array(count), minItems: 5, maxItems: 5, description: 'how many answered 1, 2, 3, 4 and 5' },
          }),
        ),
      ]),
    ),
  ),
  LeadSaved: object({ external_id: string, id: integer, created: boolean, warnings: array(string) }),
  LeadsSaved: object({ leads: array(object({ external_id: string, id: integer, created: boolean })), warnings: array(string) }),
  Lead: object({
    id: integer,
    ...leadFieldProperties,
    attributes: freeForm('attributes as imported', { type: ['string', 'number', 'boolean'] }),
  }),
  Timeline: object({ lead: string, timeline: array(ref('TimelineEntry')) }),
  TimelineEntry: timelineEntry,
  EventsRecorded: object({ ...ingestProperties, rejected: { ...rejected, maxItems: 0 } }),
  EventsRefused: object({
    ...errorProperties,
    error: { const: 'unprocessable' },
    ...ingestProperties,
    rejected: { ...rejected, minItems: 1 },
  }),
  SegmentAccepted: object({ ...segmentProperties, ...ingestProperties, rejected: { ...rejected, maxItems: 0 }, warnings: array(string) }),
  SegmentRefused: object({
    ...errorProperties,
    error: { const: 'unprocessable' },
    ...segmentProperties,
    ...ingestProperties,
    rejected: { ...rejected, minItems: 1 },
    warnings: array(string),
  }),
  MessagePage: object({
    messages: array(ref('Message')),
    next: orNull({ ...integer, description: 'pass as `before` for the next page; null on the last page' }),
  }),
  Message: object(messageProperties),
  ContactList: object({ contacts: array(ref('ContactSummary')) }),
  ContactSummary: object(contactSummaryProperties),
  Contact: object(contactDetailProperties),
  ReplyQueued: object({ message: integer, status: { const: 'queued' } }),
  CannedAnswerList: object({ canned_answers: array(object(cannedAnswerProperties)) }),
  RenderedAnswer: object(renderedAnswerProperties),
  ServiceLevels: object({ from: dateTime, to: dateTime, queues: array(object(serviceLevelProperties)) }),
  ConsentRecorded: object(
    {
      event: integer,
      confirmation: object(
        { message: orNull(integer), expires_at: dateTime },
        [],
        'the double opt-in email a grant of email marketing sends',
      ),
    },
    ['confirmation'],
  ),
  ConsentCheck: consentCheck,
  LedgerEvent: object(ledgerEventProperties),
  ProofConsentEvent: object(proofEventProperties),
  ConsentProof: object(proofProperties),
  AccessBundle: object(accessBundleProperties),
  ExportedConsentEvent: object(exportedProperties),
  OpenApiDocument: {
    type: 'object',
    'x-free-form': true,
    description: 'this document',
    required: ['openapi', 'info', 'paths'],
  },
};
