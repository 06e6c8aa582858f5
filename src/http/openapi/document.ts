import type Joi from 'joi';
import { can, type Permission } from '../../access/roles.ts';
import { ROLES } from '../../access/schema.ts';
import { HTTP_STATUS, type ErrorCode } from '../../errors.ts';
import { EXPORT_HEADER } from '../../consent/proof.ts';
import { BODY_LIMITS, type BodyLimit } from '../body.ts';
import { eventInputSchema } from '../../leads/events.ts';
import { leadRecordSchema } from '../../leads/validation.ts';
import * as request from '../api/schemas.ts';
import { answerSchemas, errorProperties, object, ref } from './answers.ts';
import { jsonSchemaOf, parametersOf, type JsonSchema } from './joi.ts';

/**
 * The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json. Requests are described by
 * converting the joi schemas the routers validate with (../api/schemas.ts); answers by the JSON
 * Schemas of ./answers.ts. test/http/openapi.test.ts calls every operation and checks each answer
 * against this document, and that every route the app serves is here with the permission it checks.
 */

type Method = 'get' | 'post';

interface Answer {
  description: string;
  /** A JSON answer: a schema or the name of one in answers.ts. */
  json?: JsonSchema | string;
  /** Other media types, each with a schema (a string) and, for NDJSON, the schema of one line. */
  media?: Record<string, { description?: string; itemSchema?: string }>;
}

interface ErrorAnswer {
  description: string;
  /** The error codes this answer can carry (each must have this status in errors.ts). */
  codes: ErrorCode[];
  /** A schema of its own (an error with extra fields), instead of the plain error. */
  schema?: string;
}

interface Operation {
  method: Method;
  /** The path after /api/v1, in OpenAPI's `{param}` form. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  /** What the route checks (requirePermission); null: no API key needed. */
  permission: Permission | null;
  params?: Record<string, { schema: Joi.Schema; description: string }>;
  query?: Joi.ObjectSchema;
  /** The request body, and the largest one the route reads (../body.ts). */
  body?: { schema: Joi.Schema; description?: string; limit: BodyLimit };
  answers: Record<number, Answer>;
  /** Error answers besides those every operation of its kind has (400, 401, 403, 413, 500). */
  errors?: Record<number, ErrorAnswer>;
  /** The key may also come as the basic-auth user (Segment's write key), besides the bearer token. */
  writeKey?: boolean;
}

/** Request schemas with a name of their own in components.schemas (referenced where they occur). */
const NAMED_REQUESTS: Record<string, Joi.Schema> = { LeadRecord: leadRecordSchema, EventInput: eventInputSchema };

const campaignId = { schema: request.campaignIdParam, description: 'the campaign id (its `id:` in YAML)' };
const externalId = { schema: request.externalIdParam, description: "the lead's external_id" };
const contactId = {
  schema: request.contactIdParam,
  description: 'the inbound contact id; a contact outside the key’s reach answers 404 as if it did not exist',
};
const notFound = (what: string): ErrorAnswer => ({ description: `no such ${what}`, codes: ['not_found'] });
const contactActionErrors = (conflict: string, unprocessable: string): Record<number, ErrorAnswer> => ({
  404: notFound('contact (or not within reach)'),
  409: { description: `${conflict}, or its person’s data was erased`, codes: ['conflict'] },
  422: { description: unprocessable, codes: ['unprocessable'] },
});
const contact: Answer = { description: 'the contact after the change', json: 'Contact' };
/** The `user` field of inbox actions. */
const actingUser = 'A key acts as its own person; only an admin key may name another `user` (any other key naming someone else gets 403).';

/** Event intake past EVENTS_MAX_IN_FLIGHT (../intake.ts): refused before its body is read, nothing recorded. */
const overloaded: ErrorAnswer = {
  description: 'too many intake requests in flight in this process: nothing was recorded; retry after the `Retry-After` header’s seconds',
  codes: ['overloaded'],
};

const OPERATIONS: Operation[] = [
  {
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApiDocument',
    tag: 'meta',
    summary: 'This document',
    description: 'Needs no API key: it describes the API and holds no data.',
    permission: null,
    answers: { 200: { description: 'the OpenAPI document', json: 'OpenApiDocument' } },
  },
  {
    method: 'get',
    path: '/campaigns',
    operationId: 'listCampaigns',
    tag: 'campaigns',
    summary: 'Campaigns as loaded from the campaign files, and the problems found in them',
    description: 'A campaign with errors is left out of `campaigns`; its problems are listed.',
    permission: 'read',
    answers: { 200: { description: 'campaigns and problems', json: 'CampaignList' } },
  },
  {
    method: 'get',
    path: '/campaigns/{id}/plan',
    operationId: 'planCampaign',
    tag: 'campaigns',
    summary: 'Who would get the first step if the campaign ran now, and who would not and why',
    description:
      'Records and sends nothing. Lead campaigns only. The answer is streamed as the audience is read (one entry per line), ' +
      'so it holds a million recipients without being held in memory; an error after it began cuts it short (invalid JSON).',
    permission: 'read',
    params: { id: campaignId },
    answers: { 200: { description: 'the plan', json: 'Plan' } },
    errors: {
      404: notFound('campaign'),
      422: {
        description: 'an event campaign (nothing to plan), or a campaign file with errors',
        codes: ['unsupported', 'invalid_campaign'],
      },
    },
  },
  {
    method: 'post',
    path: '/campaigns/{id}/runs',
    operationId: 'runCampaign',
    tag: 'campaigns',
    summary: 'Run a lead campaign now',
    description:
      'A step reaches each lead once per occurrence. The default occurrence is the campaign’s own: `once` for a one-shot campaign (however it is started), the latest firing for a cron one; naming a new occurrence sends again deliberately.',
    permission: 'write',
    params: { id: campaignId },
    body: { schema: request.runBody, limit: 'small' },
    answers: { 201: { description: 'the run, with what it recorded', json: 'RunStarted' } },
    errors: {
      404: notFound('campaign'),
      422: {
        description: 'an event campaign (people enter it by events), or a campaign file with errors',
        codes: ['unsupported', 'invalid_campaign'],
      },
    },
  },
  {
    method: 'post',
    path: '/campaigns/{id}/retry',
    operationId: 'retryCampaign',
    tag: 'campaigns',
    summary: 'Record again the failed steps that hold people, after a fix',
    description:
      'A step that failed when it was recorded (a template that could not render) holds the person until it is retried or skipped. Retrying records it again as of now under the same idempotency key, so it still reaches each person once; one that fails again holds them again. `skip` moves them on to their next step instead. Messages whose send failed for good (`rejected`, `attempts_exhausted`) are queued again as recorded, each still delivered at most once (`resent`).',
    permission: 'write',
    params: { id: campaignId },
    body: { schema: request.retryBody, limit: 'small' },
    answers: { 200: { description: 'what the retry recorded', json: 'RetryDone' } },
    errors: {
      400: { description: 'a step the campaign does not have', codes: ['invalid_input'] },
      404: notFound('campaign'),
      422: { description: 'a campaign file with errors', codes: ['invalid_campaign'] },
    },
  },
  {
    method: 'post',
    path: '/campaigns/{id}/send-test',
    operationId: 'sendTest',
    tag: 'campaigns',
    summary: "Send one step's message, marked [TEST], to a user's own or a seed-list address",
    description:
      "Renders the step as a run would, for a lead or for a persona (and locale) with sample data, prefixes the subject (or the SMS) with `[TEST]` and sends it through the configured channel to `to`, which must be a Touchpoint user's own email address or on TEST_RECIPIENTS. No consent is read and nothing reaches the lead; the send is recorded as a test, outside the campaign's counts and reports.",
    permission: 'write',
    params: { id: campaignId },
    body: { schema: request.sendTestBody, limit: 'small' },
    answers: { 201: { description: 'the test was handed to the channel', json: 'TestSent' } },
    errors: {
      400: { description: 'an address that is not one, or of the wrong channel for the step', codes: ['invalid_input'] },
      403: { description: 'an address that may not receive tests', codes: ['forbidden'] },
      404: { description: 'no such campaign, step, lead or persona, or nothing to render for them', codes: ['not_found'] },
      422: {
        description: 'a campaign file with errors, or the channel did not take the message',
        codes: ['invalid_campaign', 'unprocessable'],
      },
    },
  },
  {
    method: 'get',
    path: '/campaigns/{id}/report',
    operationId: 'reportCampaign',
    tag: 'campaigns',
    summary: 'What a campaign did, over all its occurrences or one: per step, persona, channel and day',
    description:
      'Recorded, sent, delivered, failed and suppressed by reason, replies by category, opt-outs and conversions (the goal event within its window after a sent message). The same JSON as `touchpoint report <id> --json`. A campaign whose file is gone is reported while it has messages.',
    permission: 'read',
    params: { id: campaignId },
    query: request.reportQuery,
    answers: { 200: { description: 'the report', json: 'Report' } },
    errors: {
      404: { description: 'no such campaign, or an occurrence it has no messages of', codes: ['not_found'] },
      422: { description: 'a campaign file with errors', codes: ['invalid_campaign'] },
    },
  },
  {
    method: 'post',
    path: '/leads',
    operationId: 'saveLeads',
    tag: 'leads',
    summary: 'Create or update leads (one object, or an array of up to 1,000)',
    description:
      'All records are validated before any is written; problems of an array are prefixed with the index, `[1] …`. ' +
      'A phone that is not a valid number is kept as written, with a warning.',
    permission: 'write',
    body: { schema: request.leadsBody, limit: 'batch' },
    answers: {
      201: {
        description: 'at least one lead was created; one object answers `LeadSaved`, an array `LeadsSaved`',
        json: { oneOf: [ref('LeadSaved'), ref('LeadsSaved')] },
      },
      200: { description: 'every lead existed and was updated', json: { oneOf: [ref('LeadSaved'), ref('LeadsSaved')] } },
    },
  },
  {
    method: 'get',
    path: '/leads/{external_id}',
    operationId: 'getLead',
    tag: 'leads',
    summary: 'One lead',
    permission: 'read',
    params: { external_id: externalId },
    answers: { 200: { description: 'the lead', json: 'Lead' } },
    errors: { 404: notFound('lead') },
  },
  {
    method: 'get',
    path: '/leads/{external_id}/timeline',
    operationId: 'getLeadTimeline',
    tag: 'leads',
    summary: 'Events, messages, consent changes and replies of one person, newest first',
    description:
      'Reply subjects and texts only where the key may read the reply: its role works replies (admin, service, compliance) and, ' +
      'for a service key, the reply is in a queue its person serves or assigned or escalated to them (the inbox’s reach rule); ' +
      'null everywhere else.',
    permission: 'read',
    params: { external_id: externalId },
    answers: { 200: { description: 'the timeline', json: 'Timeline' } },
    errors: { 404: notFound('lead') },
  },
  {
    method: 'get',
    path: '/leads/{external_id}/export',
    operationId: 'exportLead',
    tag: 'leads',
    summary: 'Answer an access request (GDPR Art. 15): everything held about one person',
    description:
      'One JSON bundle with a human-readable summary: the lead, events, enrollments, messages with their content, replies with ' +
      'their later messages, contact history and notes, satisfaction answers, the consent proof and the access requests so far. ' +
      'The request is recorded (who, when) and listed in the audit. Compliance and admin keys only. An erased person is not found.',
    permission: 'consent',
    params: { external_id: externalId },
    query: request.accessRequestQuery,
    answers: {
      200: {
        description:
          'the bundle: JSON, or with `format=zip` a ZIP archive of summary.txt, access-request.json and one text file per message',
        json: 'AccessBundle',
        media: { 'application/zip': { description: 'with `format=zip`' } },
      },
    },
    errors: { 404: notFound('lead') },
  },
  {
    method: 'post',
    path: '/events',
    operationId: 'sendEvents',
    tag: 'events',
    summary: 'Record one event or a batch of up to 1,000',
    description:
      'The same `id` twice is recorded once. An unknown lead is created when the event carries an email or phone; ' +
      'otherwise that event is refused (422) and the others are recorded.',
    permission: 'write',
    body: { schema: request.eventsBody, limit: 'batch' },
    answers: {
      201: { description: 'at least one event was recorded', json: 'EventsRecorded' },
      200: { description: 'nothing new: every event was a duplicate', json: 'EventsRecorded' },
    },
    errors: {
      422: {
        description: 'some events were refused (`rejected`, `details`); the others were recorded, as the counts say',
        codes: ['unprocessable'],
        schema: 'EventsRefused',
      },
      429: overloaded,
    },
  },
  ...(['track', 'identify', 'batch'] as const).map((call): Operation => ({
    method: 'post',
    path: `/segment/${call}`,
    operationId: `segment${call[0]!.toUpperCase()}${call.slice(1)}`,
    tag: 'events',
    summary: {
      track: 'Segment `track`: record an event (as POST /events does)',
      identify: 'Segment `identify`: save the lead and its traits (as POST /leads does)',
      batch: 'Segment `batch`: up to 1,000 track and identify messages, in order',
    }[call],
    description:
      'Segment’s Tracking API spec shape (fields in camelCase, as Segment sends them; other spec fields are accepted and not read). ' +
      '`userId` (else `anonymousId`) is the lead’s external_id; `messageId` is the event id (a replayed one is recorded once); ' +
      'event names become ours: `Item Purchased` → `item_purchased`. identify sets the reserved traits it names (email, phone, ' +
      'firstName/first_name, lastName/last_name, name, locale, timezone) and keeps the lead’s other fields; every other trait is an attribute ' +
      '(nested objects as dotted keys). A batch’s page, screen, group and alias messages are accepted and ignored. ' +
      'The key may be the basic-auth user with an empty password (a Segment write key) or a bearer token.',
    permission: 'write',
    writeKey: true,
    body: {
      schema: { track: request.segmentTrackBody, identify: request.segmentIdentifyBody, batch: request.segmentBatchBody }[call],
      limit: 'batch',
    },
    answers: {
      201: { description: 'a lead was created or an event recorded', json: 'SegmentAccepted' },
      200: { description: 'nothing new: known leads updated, events already recorded', json: 'SegmentAccepted' },
    },
    errors: {
      422: {
        description: 'some tracks named an unknown person without an email or phone (`rejected`); everything else was saved',
        codes: ['unprocessable'],
        schema: 'SegmentRefused',
      },
      429: overloaded,
    },
  })),
  {
    method: 'get',
    path: '/messages',
    operationId: 'listMessages',
    tag: 'messages',
    summary: 'The outbox, newest first, a page at a time',
    permission: 'read',
    query: request.messagesQuery,
    answers: { 200: { description: 'a page of messages', json: 'MessagePage' } },
  },
  {
    method: 'get',
    path: '/inbound',
    operationId: 'listContacts',
    tag: 'inbound',
    summary: 'Replies (inbound contacts), open work first',
    description: 'A service key sees only the queues of its person and what is assigned or escalated to them.',
    permission: 'inbound',
    query: request.inboundQuery,
    answers: { 200: { description: 'the contacts', json: 'ContactList' } },
  },
  // Named paths before `{id}`, which would match their names.
  {
    method: 'get',
    path: '/inbound/canned-answers',
    operationId: 'listCannedAnswers',
    tag: 'inbound',
    summary: 'The canned answers (templates/replies/<name>[.<locale>].hbs)',
    permission: 'inbound:work',
    answers: { 200: { description: 'the canned answers', json: 'CannedAnswerList' } },
  },
  {
    method: 'get',
    path: '/inbound/service-levels',
    operationId: 'serviceLevels',
    tag: 'inbound',
    summary: 'First response and resolution times (median, p90) and breaches per queue',
    description: 'Of the queues the key’s person leads (`lead:` in inbound.yaml); every queue for an admin key.',
    permission: 'inbound:work',
    query: request.serviceLevelsQuery,
    answers: { 200: { description: 'per queue, for contacts received in the period', json: 'ServiceLevels' } },
  },
  {
    method: 'get',
    path: '/inbound/{id}',
    operationId: 'getContact',
    tag: 'inbound',
    summary: 'One contact with its history and the person’s timeline',
    permission: 'inbound',
    params: { id: contactId },
    answers: { 200: { description: 'the contact', json: 'Contact' } },
    errors: { 404: notFound('contact (or not within reach)') },
  },
  {
    method: 'get',
    path: '/reports/repeats',
    operationId: 'reportRepeats',
    tag: 'inbound',
    summary: 'Repeat contacts per queue and per campaign',
    description:
      'Of the contacts received in [from, to), how many were repeat contacts: the same person and category within 14 days of an earlier contact. Counts only, no reply text.',
    permission: 'read',
    query: request.repeatsQuery,
    answers: { 200: { description: 'repeat counts and rates', json: 'RepeatReport' } },
  },
  {
    method: 'post',
    path: '/inbound/{id}/accept',
    operationId: 'acceptContact',
    tag: 'inbound',
    summary: 'Take a contact on',
    description: `\`user\` names who accepts; without it, the key’s own person, else the assignee. ${actingUser}`,
    permission: 'inbound:work',
    params: { id: contactId },
    body: { schema: request.acceptBody, limit: 'small' },
    answers: { 200: contact },
    errors: contactActionErrors(
      'the contact is accepted or closed already',
      'no such user, or nobody to accept it (no user named, no assignee)',
    ),
  },
  {
    method: 'post',
    path: '/inbound/{id}/reply',
    operationId: 'replyToContact',
    tag: 'inbound',
    summary: 'Answer a contact through the outbox',
    description:
      'On the channel the person wrote on unless `channel` says otherwise, to the address in the contact’s `answer_to`: an ' +
      `identified person’s address on file, never merely the address a reply came from. Answering takes the contact on. ${actingUser}`,
    permission: 'inbound:work',
    params: { id: contactId },
    body: { schema: request.replyBody, limit: 'reply' },
    answers: { 202: { description: 'the answer is queued', json: 'ReplyQueued' } },
    errors: contactActionErrors('the contact is closed', 'no such user, or the person has no address on the channel asked for'),
  },
  {
    method: 'post',
    path: '/inbound/{id}/assign',
    operationId: 'assignContact',
    tag: 'inbound',
    summary: 'Hand a contact to a person or another queue',
    permission: 'inbound:work',
    params: { id: contactId },
    body: { schema: request.assignBody, limit: 'small' },
    answers: { 200: contact },
    errors: contactActionErrors('the contact is closed', 'unknown queue, or no active service user by that email'),
  },
  {
    method: 'post',
    path: '/inbound/{id}/close',
    operationId: 'closeContact',
    tag: 'inbound',
    summary: 'Close a contact with a resolution',
    description: actingUser,
    permission: 'inbound:work',
    params: { id: contactId },
    body: { schema: request.closeBody, limit: 'small' },
    answers: { 200: contact },
    errors: contactActionErrors('the contact is closed already', 'no such user'),
  },
  {
    method: 'post',
    path: '/inbound/{id}/opt-out',
    operationId: 'optOutContact',
    tag: 'inbound',
    summary: 'Record the opt-out a contact asks for',
    description:
      'Withdraws the person’s consent for the channel and purpose of the message the contact answers (marketing on its channel ' +
      'when there is none), with the acting user as actor and the contact as evidence. This is how an agent completes an ' +
      `opt-out request from an unverified sender, which changes nothing by itself. ${actingUser}`,
    permission: 'inbound:work',
    params: { id: contactId },
    body: { schema: request.optOutBody, limit: 'small' },
    answers: { 200: contact },
    errors: contactActionErrors('the contact is closed', 'the sender is not identified (nobody to opt out), or no such user'),
  },
  {
    method: 'post',
    path: '/inbound/{id}/notes',
    operationId: 'addContactNote',
    tag: 'inbound',
    summary: 'Add an internal note to a contact',
    description: `For the team only: shown with the contact (\`notes\`), never sent to the person. ${actingUser}`,
    permission: 'inbound:work',
    params: { id: contactId },
    body: { schema: request.noteBody, limit: 'small' },
    answers: { 201: { description: 'the contact with the note', json: 'Contact' } },
    errors: { 404: notFound('contact (or not within reach)'), 409: { description: 'the person’s data was erased', codes: ['conflict'] } },
  },
  {
    method: 'get',
    path: '/inbound/{id}/canned-answers/{name}',
    operationId: 'renderCannedAnswer',
    tag: 'inbound',
    summary: 'A canned answer rendered for a contact’s person',
    description:
      'In the person’s language, with their data and the acting user’s name; nothing is sent: edit the text and send it with ' +
      `the reply route. ${actingUser}`,
    permission: 'inbound:work',
    params: { id: contactId, name: { schema: request.cannedNameParam, description: 'the canned answer’s name' } },
    query: request.cannedQuery,
    answers: { 200: { description: 'the rendered text', json: 'RenderedAnswer' } },
    errors: {
      404: notFound('contact (or not within reach), or canned answer'),
      422: { description: 'the template reads a field this person lacks, or no such user', codes: ['unprocessable'] },
    },
  },
  {
    method: 'post',
    path: '/consents',
    operationId: 'recordConsent',
    tag: 'consents',
    summary: 'Record a grant or a withdrawal, with its evidence',
    description:
      'A grant of email marketing sends the double opt-in email; it counts once confirmed. Without a confirmation template ' +
      'such a grant answers 500 `invalid_config` and records nothing.',
    permission: 'write',
    body: { schema: request.consentBody, limit: 'consent' },
    answers: { 201: { description: 'the ledger event (and the confirmation email, for email marketing)', json: 'ConsentRecorded' } },
    errors: {
      400: {
        description: 'invalid input: an evidence field off the allow-list, or `occurred_at` outside the tolerance around now',
        codes: ['invalid_input'],
      },
      404: notFound('lead'),
      422: {
        description:
          'an email marketing grant for a lead without an email address, or a `notice.version` the notice store holds ' +
          'whose stored text is not `notice.text` (the message names the version)',
        codes: ['unprocessable'],
      },
    },
  },
  {
    method: 'get',
    path: '/consents/check',
    operationId: 'checkConsent',
    tag: 'consents',
    summary: 'Was a message on this channel for this purpose allowed at an instant (default: now)?',
    permission: 'consent',
    query: request.consentCheckQuery,
    answers: { 200: { description: 'the answer, with the deciding ledger event', json: 'ConsentCheck' } },
    errors: { 404: notFound('lead') },
  },
  {
    method: 'get',
    path: '/reports/csat',
    operationId: 'csatReport',
    tag: 'inbound',
    summary: 'Satisfaction (CSAT) per queue, agent and campaign: response rate, average, distribution',
    description:
      'A contact counts as surveyed once a survey message about it was sent (a `service` message of a sequence started by its ' +
      '`contact_closed`) or once it was answered. Queue, agent and campaign are those of the contact answered about.',
    permission: 'read',
    answers: { 200: { description: 'one list per dimension', json: 'CsatReport' } },
  },
  {
    method: 'get',
    path: '/consents/proof',
    operationId: 'consentProof',
    tag: 'consents',
    summary: 'A person’s whole consent history and every message with the event that allowed it',
    permission: 'consent',
    query: request.proofQuery,
    answers: {
      200: {
        description: 'JSON, or with `format=csv` one CSV of consent events and messages by time',
        json: 'ConsentProof',
        media: { 'text/csv': {} },
      },
    },
    errors: { 404: notFound('lead') },
  },
  {
    method: 'get',
    path: '/consents/export',
    operationId: 'exportConsents',
    tag: 'consents',
    summary: 'Every ledger event in [from, to), in chain order',
    description: `CSV (columns: ${EXPORT_HEADER.join(', ')}) or, with \`format=jsonl\`, one JSON object per line.`,
    permission: 'consent',
    query: request.exportQuery,
    answers: {
      200: {
        description: 'the events',
        media: {
          'text/csv': {},
          'application/x-ndjson': { description: 'each line an `ExportedConsentEvent`', itemSchema: 'ExportedConsentEvent' },
        },
      },
    },
  },
];

/** Error answers shared by many operations (components.responses). */
const SHARED_ERRORS: Record<string, { status: number } & ErrorAnswer> = {
  InvalidInput: {
    status: 400,
    description: 'invalid input (a NUL character, `\\u0000` or `%00`, anywhere included); `details` names every problem',
    codes: ['invalid_input'],
  },
  Unauthorized: {
    status: 401,
    description: 'no API key, or an unknown or revoked one; checked before the body is read',
    codes: ['unauthorized'],
  },
  Forbidden: { status: 403, description: 'the key’s role may not do this; checked before the body is read', codes: ['forbidden'] },
};

/** Every code an answer of `status` can carry: AppError codes with that status (500 adds `internal`). */
function codesFor(status: number): string[] {
  const codes: string[] = (Object.keys(HTTP_STATUS) as ErrorCode[]).filter((c) => HTTP_STATUS[c] === status);
  return status === 500 ? ['internal', ...codes] : codes;
}

function errorSchema(answer: ErrorAnswer, status: number): JsonSchema {
  for (const code of answer.codes) {
    if (!codesFor(status).includes(code) && !(status === 413 && code === 'invalid_input')) {
      throw new Error(`OpenAPI: error code ${code} does not answer ${status}`);
    }
  }
  if (answer.schema) return ref(answer.schema);
  return object({ ...errorProperties, error: { type: 'string', enum: answer.codes } });
}

const jsonContent = (schema: JsonSchema) => ({ 'application/json': { schema } });

function errorResponse(status: number, answer: ErrorAnswer) {
  return { description: answer.description, content: jsonContent(errorSchema(answer, status)) };
}

function answerResponse(answer: Answer) {
  const content: Record<string, unknown> = {};
  if (answer.json) content['application/json'] = { schema: typeof answer.json === 'string' ? ref(answer.json) : answer.json };
  for (const [type, media] of Object.entries(answer.media ?? {})) {
    content[type] = {
      schema: { type: 'string', ...(media.description ? { description: media.description } : {}) },
      ...(media.itemSchema ? { 'x-item-schema': ref(media.itemSchema) } : {}),
    };
  }
  return { description: answer.description, content };
}

/** A body is required unless the schema accepts `{}`, which is what an absent body is checked as (../validate.ts). */
function requestBody(body: NonNullable<Operation['body']>) {
  return {
    required: body.schema.validate({}).error !== undefined,
    ...(body.description ? { description: body.description } : {}),
    content: jsonContent(jsonSchemaOf(body.schema, NAMED_REQUESTS)),
  };
}

function operationObject(op: Operation) {
  const roles = op.permission ? ROLES.filter((r) => can(r, op.permission!)) : [];
  const responses: Record<string, unknown> = {};
  for (const [status, answer] of Object.entries(op.answers)) responses[status] = answerResponse(answer);
  const shared = (name: keyof typeof SHARED_ERRORS) => {
    responses[SHARED_ERRORS[name]!.status] = { $ref: `#/components/responses/${name}` };
  };
  if (op.query || op.body || op.params) shared('InvalidInput');
  if (op.permission) shared('Unauthorized');
  if (op.permission && roles.length < ROLES.length) shared('Forbidden');
  if (op.body) {
    responses[413] = errorResponse(413, {
      description: `the body is larger than ${BODY_LIMITS[op.body.limit]}, this route’s limit; it is not read`,
      codes: ['invalid_input'],
    });
  }
  responses[500] = { $ref: '#/components/responses/Internal' };
  for (const [status, answer] of Object.entries(op.errors ?? {})) responses[status] = errorResponse(Number(status), answer);

  const parameters = [
    ...Object.entries(op.params ?? {}).map(([name, p]) => ({
      name,
      in: 'path',
      required: true,
      description: p.description,
      schema: jsonSchemaOf(p.schema),
    })),
    ...(op.query ? parametersOf(op.query, 'query') : []),
  ];
  const who = op.permission ? `Roles: ${roles.join(', ')} (permission \`${op.permission}\`).` : 'No API key needed.';
  return {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    description: [op.description, who].filter(Boolean).join('\n\n'),
    'x-permission': op.permission,
    'x-roles': roles,
    ...(op.permission ? {} : { security: [] }),
    ...(op.writeKey ? { security: [{ apiKey: [] }, { writeKey: [] }] } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(op.body ? { requestBody: requestBody(op.body), 'x-body-limit': BODY_LIMITS[op.body.limit] } : {}),
    responses: Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b))),
  };
}

/** Where the API lives; the document's paths include it. */
export const API_BASE = '/api/v1';

function buildDocument() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const path = `${API_BASE}${op.path}`;
    paths[path] = { ...paths[path], [op.method]: operationObject(op) };
  }
  const responses: Record<string, unknown> = Object.fromEntries(
    Object.entries(SHARED_ERRORS).map(([name, answer]) => [name, errorResponse(answer.status, answer)]),
  );
  responses.Internal = errorResponse(500, {
    description: 'an unexpected failure (see the server log), or a configuration problem',
    codes: codesFor(500) as ErrorCode[],
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'Touchpoint API',
      version: '1.0.0',
      description:
        'Consent-first campaign engine. Every route but this document needs `Authorization: Bearer <key>`; the key’s role decides ' +
        '(`x-roles` of each operation). Errors answer `{error, message, details}` with a stable `error` code. ' +
        'Field names are snake_case; maps whose keys are data (marked `x-free-form`) keep the keys they were given.',
    },
    tags: ['meta', 'campaigns', 'leads', 'events', 'messages', 'inbound', 'consents'].map((name) => ({ name })),
    security: [{ apiKey: [] }],
    paths,
    components: {
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API key from `touchpoint keys create --role <role>`; keys are checked at most every 10 seconds.',
        },
        writeKey: {
          type: 'http',
          scheme: 'basic',
          description:
            'The same API key as the basic-auth user with an empty password, as Segment sends a write key (Segment routes only).',
        },
      },
      schemas: {
        ...Object.fromEntries(Object.entries(NAMED_REQUESTS).map(([name, schema]) => [name, jsonSchemaOf(schema)])),
        ...answerSchemas,
      },
      responses,
    },
  };
}

export type OpenApiDocument = ReturnType<typeof buildDocument>;

let document: OpenApiDocument | undefined;

/** The document, built once per process. */
export function openApiDocument(): OpenApiDocument {
  document ??= buildDocument();
  return document;
}
