import type pg from 'pg';
import type { NoticeStore } from '../consent/notices.ts';
import { consentProof, type Proof } from '../consent/proof.ts';
import { zipArchive } from '../zip.ts';
import { statement, type Queryable } from '../db/statement.ts';
import { withTransaction } from '../db/tx.ts';
import { AppError } from '../errors.ts';

/** The formats an access request can be answered in (JSON only: no zip library is installed). */
export const ACCESS_REQUEST_FORMATS = ['json', 'zip'] as const;
export type AccessRequestFormat = (typeof ACCESS_REQUEST_FORMATS)[number];

export interface AccessRequestRecord {
  id: number;
  requested_by: string;
  format: string;
  requested_at: Date;
}

export interface ContactBundle {
  id: number;
  channel: string;
  kind: string;
  from_address: string;
  to_address: string | null;
  subject: string | null;
  text: string;
  body_text: string;
  language: string | null;
  sentiment: number | null;
  category: string;
  status: string;
  resolution: string | null;
  campaign: string | null;
  received_at: Date;
  closed_at: Date | null;
  /** The person's later messages on this contact. */
  messages: {
    id: number;
    channel: string;
    from_address: string;
    subject: string | null;
    text: string;
    body_text: string;
    received_at: Date;
  }[];
  /** What happened to the contact, with the team's notes about it. */
  history: { action: string; actor: string; detail: Record<string, unknown>; at: Date }[];
}

/**
 * Everything held about one person (GDPR Art. 15), in one machine-readable bundle with a
 * human-readable summary: the lead, their events and enrollments, every message with its content,
 * their replies with the contact history and notes, their satisfaction answers, the consent proof,
 * and the access requests answered so far (this one included). Only rows keyed to this lead are read,
 * so nothing of another person is in it.
 */
export interface AccessBundle {
  format: 'touchpoint-access-request/1';
  generated_at: Date;
  request: AccessRequestRecord;
  summary: string[];
  lead: Record<string, unknown>;
  events: Record<string, unknown>[];
  enrollments: Record<string, unknown>[];
  messages: Record<string, unknown>[];
  contacts: ContactBundle[];
  csat_answers: Record<string, unknown>[];
  consent: Proof;
  access_requests: AccessRequestRecord[];
}

const LOCK_LEAD = statement(
  'leads.access-request-lead',
  `SELECT id, external_id, email, phone, first_name, last_name, locale, timezone, persona, tags, attributes, created_at, updated_at
     FROM leads WHERE external_id = $1 AND erased_at IS NULL FOR SHARE`,
);
const RECORD = statement(
  'leads.access-request-record',
  `INSERT INTO access_requests (lead_id, requested_by, format, requested_at) VALUES ($1, $2, $3, $4)
   RETURNING id, requested_by, format, requested_at`,
);
const REQUESTS = statement(
  'leads.access-requests-of',
  `SELECT id, requested_by, format, requested_at FROM access_requests WHERE lead_id = $1 ORDER BY requested_at, id`,
);
const REQUESTS_BY_EXTERNAL_ID = statement(
  'leads.access-requests-by-external-id',
  `SELECT r.id, r.requested_by, r.format, r.requested_at
     FROM access_requests r JOIN leads l ON l.id = r.lead_id WHERE l.external_id = $1 ORDER BY r.requested_at, r.id`,
);
const EVENTS = statement(
  'leads.access-request-events',
  `SELECT id, event_key, name, properties, occurred_at, received_at FROM events WHERE lead_id = $1 ORDER BY occurred_at, id`,
);
const ENROLLMENTS = statement(
  'leads.access-request-enrollments',
  `SELECT id, campaign_id AS campaign, occurrence, status, current_step, next_due_at, exit_reason, enrolled_at, converted_at, replied_at,
          finished_at
     FROM enrollments WHERE lead_id = $1 ORDER BY enrolled_at, id`,
);
const MESSAGES = statement(
  'leads.access-request-messages',
  `SELECT id, campaign_id AS campaign, step_id AS step, occurrence, channel, purpose, template, status, reason, to_address, subject,
          body_text, body_html, headers, delivery_status, created_at, sent_at
     FROM messages WHERE lead_id = $1 ORDER BY created_at, id`,
);
const CONTACTS = statement(
  'leads.access-request-contacts',
  `SELECT id, channel, kind, from_address, to_address, subject, text, body_text, language, sentiment, category, status, resolution,
          campaign_id AS campaign, received_at, closed_at
     FROM inbound_contacts WHERE lead_id = $1 ORDER BY received_at, id`,
);
const CONTACT_MESSAGES = statement(
  'leads.access-request-contact-messages',
  `SELECT m.contact_id, m.id, m.channel, m.from_address, m.subject, m.text, m.body_text, m.received_at
     FROM inbound_contact_messages m JOIN inbound_contacts c ON c.id = m.contact_id
    WHERE c.lead_id = $1 ORDER BY m.received_at, m.id`,
);
const CONTACT_HISTORY = statement(
  'leads.access-request-contact-history',
  `SELECT e.contact_id, e.action, e.actor, e.detail, e.at
     FROM inbound_contact_events e JOIN inbound_contacts c ON c.id = e.contact_id
    WHERE c.lead_id = $1 ORDER BY e.at, e.id`,
);
const CSAT = statement(
  'leads.access-request-csat',
  `SELECT contact_id, score, comment, via, answered_at FROM csat_answers WHERE lead_id = $1 ORDER BY answered_at, contact_id`,
);

export interface AccessRequest {
  externalId: string;
  /** Who asks: `user:<email>`, `key:<name>` or `cli`. */
  requestedBy: string;
  format: AccessRequestFormat;
}

/**
 * Answers an access request: records it (who, when) and gathers the bundle in the same
 * transaction, so a recorded request always has the bundle it was answered with. An erased
 * person has nothing left to give (their external id is gone): not found.
 */
export async function answerAccessRequest(pool: pg.Pool, request: AccessRequest, now: Date, notices: NoticeStore): Promise<AccessBundle> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ id: number; external_id: string } & Record<string, unknown>>(LOCK_LEAD, [request.externalId]);
    const found = rows[0];
    if (!found) throw new AppError('not_found', `no lead '${request.externalId}' (or it was erased)`);
    const { id, ...lead } = found;
    const recorded = (await client.query<AccessRequestRecord>(RECORD, [id, request.requestedBy, request.format, now])).rows[0]!;
    const rowsOf = async <T extends object>(sql: string) => (await client.query<T>(sql, [id])).rows;
    const events = await rowsOf<Record<string, unknown>>(EVENTS);
    const enrollments = await rowsOf<Record<string, unknown>>(ENROLLMENTS);
    const messages = await rowsOf<Record<string, unknown>>(MESSAGES);
    const contacts = await rowsOf<Omit<ContactBundle, 'messages' | 'history'>>(CONTACTS);
    const contactMessages = await rowsOf<ContactBundle['messages'][number] & { contact_id: number }>(CONTACT_MESSAGES);
    const history = await rowsOf<ContactBundle['history'][number] & { contact_id: number }>(CONTACT_HISTORY);
    const csat = await rowsOf<Record<string, unknown>>(CSAT);
    const requests = await rowsOf<AccessRequestRecord>(REQUESTS);
    const consent = await consentProof(client, request.externalId, now, notices);
    const bundled: ContactBundle[] = contacts.map((c) => ({
      ...c,
      messages: contactMessages.filter((m) => m.contact_id === c.id).map(({ contact_id: _, ...m }) => m),
      history: history.filter((h) => h.contact_id === c.id).map(({ contact_id: _, ...h }) => h),
    }));
    const summary = [
      `Personal data held about ${lead.external_id}, generated ${now.toISOString()} for ${request.requestedBy}.`,
      `Profile: name ${[lead.first_name, lead.last_name].filter(Boolean).join(' ') || '(none)'}, email ${lead.email ?? '(none)'}, phone ${lead.phone ?? '(none)'}, ${Object.keys(lead.attributes as object).length} attribute(s).`,
      `${events.length} event(s) reported about them; ${enrollments.length} campaign enrollment(s).`,
      `${messages.length} message(s) recorded for them, with their content.`,
      `${contacts.length} reply conversation(s) with ${contactMessages.length} later message(s), ${history.length} history entr(ies) including notes; ${csat.length} satisfaction answer(s).`,
      `${consent.consent_events.length} consent event(s) (the ledger ${consent.chain.broken ? 'does NOT verify' : 'verifies'} for them).`,
      `${requests.length} access request(s) answered, this one included.`,
    ];
    return {
      format: 'touchpoint-access-request/1',
      generated_at: now,
      request: recorded,
      summary,
      lead,
      events,
      enrollments,
      messages,
      contacts: bundled,
      csat_answers: csat,
      consent,
      access_requests: requests,
    };
  });
}

/** The access requests answered for a person, oldest first (the audit lists them). */
export async function accessRequestsOf(db: Queryable, externalId: string): Promise<AccessRequestRecord[]> {
  return (await db.query<AccessRequestRecord>(REQUESTS_BY_EXTERNAL_ID, [externalId])).rows;
}

/**
 * The bundle as a ZIP archive, for a person who opens it without a JSON reader: `summary.txt`
 * (the summary's sentences), `access-request.json` (the whole bundle, as the JSON form) and one
 * text file per message as the person got it.
 */
export function accessRequestArchive(bundle: AccessBundle): Buffer {
  const text = (s: string) => Buffer.from(s, 'utf8');
  return zipArchive(
    [
      { name: 'summary.txt', data: text(bundle.summary.join('\n') + '\n') },
      { name: 'access-request.json', data: text(JSON.stringify(bundle, null, 2) + '\n') },
      ...bundle.messages.map((m) => ({
        name: `messages/${String(m.id)}.txt`,
        data: text(
          [`To: ${String(m.to_address ?? '')}`, `Subject: ${String(m.subject ?? '')}`, '', String(m.body_text ?? '')].join('\n') + '\n',
        ),
      })),
    ],
    bundle.generated_at,
  );
}
