import type { Channel } from '../channels/channel.ts';
import { statement, type Queryable } from '../db/statement.ts';
import { AppError } from '../errors.ts';
import { leadTimeline, type TimelineEntry } from '../leads/timeline.ts';
import { NOTE_ACTION } from './history.ts';
import { inReachSql, type Reach } from './reach.ts';
import type { ContactStatus, IdentifiedBy, Trust } from './schema.ts';

/**
 * Reading inbound contacts: lists for the inbox and the API, one contact with its history, and
 * where an answer to it goes. Changing them is workflow.ts, answer.ts and opt-out.ts.
 */

/** Who acts on a contact: a logged-in user, or an API key naming the user it acts for. */
export interface Actor {
  label: string;
  userId?: number;
}

/** A contact as lists and the API show it. */
export interface ContactSummary {
  id: number;
  lead: string | null;
  campaign: string | null;
  step: string | null;
  channel: Channel;
  kind: string;
  category: string;
  priority: string;
  queue: string | null;
  status: ContactStatus;
  assignee: string | null;
  due_at: Date | null;
  overdue: boolean;
  escalated_at: Date | null;
  received_at: Date;
  from: string;
  subject: string | null;
  text: string;
  identified_by: IdentifiedBy | null;
  /** Whether identification proves who wrote; null while unidentified. */
  trust: Trust | null;
}

export interface ContactDetail extends ContactSummary {
  /** The SMTP envelope sender, when it is not the `from` shown (a header From naming someone else). */
  envelope_from: string | null;
  /** Where an answer goes on each channel (see answerAddresses). */
  answer_to: AnswerAddresses;
  body_text: string;
  lead_id: number | null;
  lead_name: string | null;
  assignee_id: number | null;
  escalated_to: number | null;
  resolution: string | null;
  /** How the reply feels, -1 (negative) … 1 (positive) (sentiment.ts); null for a reply without words. */
  sentiment: number | null;
  /** The person's satisfaction answer about this contact, once given. */
  csat: { score: number; comment: string | null; via: string; answered_at: Date } | null;
  /** The campaign message this answers, as the person got it. */
  original: { id: number; subject: string | null; text: string | null; sent_at: Date | null; template: string | null } | null;
  /** A repeat contact: the person's earlier contact of the same category it follows (thread.ts). */
  repeat_of: number | null;
  /** The person's later messages on this contact, oldest first (the first is `text` / `body_text`). */
  follow_ups: { at: Date; channel: Channel; from: string; subject: string | null; text: string; body_text: string }[];
  history: { action: string; actor: string; detail: Record<string, unknown>; at: Date }[];
  /** The team's internal notes, oldest first: never sent to the person. */
  notes: Note[];
  /** The person's one history across channels. */
  timeline: TimelineEntry[];
}

/** An internal note on a contact: who wrote it, when, and what. */
export interface Note {
  author: string;
  at: Date;
  text: string;
}

/** Where an answer goes on each channel; null where there is no address to answer to. */
export type AnswerAddresses = Record<Channel, string | null>;

/**
 * Where an answer goes: to an identified person, their address on file on the channel answered
 * on, whatever address they wrote from and whether or not that proved who they are (so a forged
 * sender never receives what is written to the customer); to an unidentified sender, back where
 * the message came from, on its channel only.
 */
export function answerAddresses(contact: {
  lead_id: number | null;
  channel: Channel;
  from: string;
  lead_email: string | null;
  lead_phone: string | null;
}): AnswerAddresses {
  if (contact.lead_id !== null) return { email: contact.lead_email, sms: contact.lead_phone };
  return { email: contact.channel === 'email' ? contact.from : null, sms: contact.channel === 'sms' ? contact.from : null };
}

export interface ContactFilter {
  status?: ContactStatus | 'open';
  queue?: string;
  lead?: string;
  assignee?: number;
  /** Contacts assigned or escalated to this user. */
  mine?: number;
  /** Only what the viewer may see (reach.ts). */
  reach?: Reach;
  /** Automatic replies too (hidden by default). */
  automatic?: boolean;
  /**
   * Words to find in the subject or text (a web search: `"exact phrase"`, `or`, `-not`), matched
   * stemmed as German and as English; any text is a harmless query.
   */
  q?: string;
  limit?: number;
}

const SUMMARY = `c.id, l.external_id AS lead, c.campaign_id AS campaign, c.step_id AS step, c.channel, c.kind, c.category, c.priority,
  c.queue, c.status, u.email AS assignee, c.due_at, (c.status IN ('new', 'assigned') AND c.due_at <= $1) AS overdue,
  c.escalated_at, c.received_at, c.from_address AS "from", c.subject, c.text, c.identified_by, c.trust`;
const FROM = `inbound_contacts c LEFT JOIN leads l ON l.id = c.lead_id LEFT JOIN users u ON u.id = c.assignee_id`;

/** Every filter is optional: a NULL parameter leaves its condition out. */
/** A search as the person typed it, stemmed both ways like the documents (schema.ts, CONTACT_SEARCH_SQL). */
const QUERY = `(websearch_to_tsquery('german', $11) || websearch_to_tsquery('english', $11))`;

const LIST = statement(
  'inbound.list-contacts',
  `SELECT ${SUMMARY} FROM ${FROM}
    WHERE ($2::text IS NULL OR ($2 = 'open' AND c.status <> 'closed') OR c.status = $2)
      AND ($3::text IS NULL OR c.queue = $3)
      AND ${inReachSql('$4', '$5')}
      AND ($6::text IS NULL OR l.external_id = $6)
      AND ($7::bigint IS NULL OR c.assignee_id = $7)
      AND ($8::bigint IS NULL OR c.assignee_id = $8 OR c.escalated_to = $8)
      AND ($9::boolean OR c.kind = 'human')
      AND ($11::text IS NULL OR c.search @@ ${QUERY}
           OR EXISTS (SELECT 1 FROM inbound_contact_messages f WHERE f.contact_id = c.id AND f.search @@ ${QUERY}))
    ORDER BY (c.status = 'closed'), (c.status IN ('new', 'assigned') AND c.due_at <= $1) DESC,
             array_position(ARRAY['urgent', 'high', 'normal', 'low'], c.priority), c.due_at, c.received_at DESC
    LIMIT $10`,
);

const ONE = statement(
  'inbound.contact',
  `SELECT ${SUMMARY}, c.body_text, c.lead_id, c.assignee_id, c.escalated_to, c.resolution, c.message_id, c.repeat_of, c.sentiment,
          (SELECT json_build_object('score', a.score, 'comment', a.comment, 'via', a.via, 'answered_at', a.answered_at)
             FROM csat_answers a WHERE a.contact_id = c.id) AS csat,
          nullif(c.envelope_from, c.from_address) AS envelope_from, l.email AS lead_email, l.phone AS lead_phone,
          nullif(trim(concat_ws(' ', l.first_name, l.last_name)), '') AS lead_name
     FROM ${FROM} WHERE c.id = $2`,
);
const ORIGINAL = statement(
  'inbound.original-message',
  `SELECT id, subject, body_text AS text, sent_at, template FROM messages WHERE id = $1`,
);
const FOLLOW_UPS = statement(
  'inbound.contact-follow-ups',
  `SELECT received_at AS at, channel, from_address AS "from", subject, text, body_text FROM inbound_contact_messages
    WHERE contact_id = $1 ORDER BY received_at, id`,
);
const HISTORY = statement(
  'inbound.contact-history',
  `SELECT action, actor, detail, at FROM inbound_contact_events WHERE contact_id = $1 AND action <> '${NOTE_ACTION}' ORDER BY at, id`,
);
const NOTES = statement(
  'inbound.contact-notes',
  `SELECT actor AS author, at, coalesce(detail->>'text', '') AS text
     FROM inbound_contact_events WHERE contact_id = $1 AND action = '${NOTE_ACTION}' ORDER BY at, id`,
);

/** Open work first: overdue, then by due time and priority; closed ones newest first. */
export async function listContacts(db: Queryable, filter: ContactFilter, now: Date): Promise<ContactSummary[]> {
  const { rows } = await db.query<ContactSummary>(LIST, [
    now,
    filter.status ?? null,
    filter.queue ?? null,
    filter.reach?.queues ?? null,
    filter.reach?.userId ?? null,
    filter.lead ?? null,
    filter.assignee ?? null,
    filter.mine ?? null,
    filter.automatic ?? false,
    filter.limit ?? 200,
    filter.q ?? null,
  ]);
  return rows;
}

/**
 * One contact with its history and the person's timeline; the timeline shows the words of only
 * those replies that `replies` reaches (the viewer's, see reach.ts).
 */
export async function getContact(db: Queryable, id: number, now: Date, replies: Reach | null): Promise<ContactDetail> {
  const { rows } = await db.query<
    Omit<ContactDetail, 'original' | 'follow_ups' | 'history' | 'notes' | 'timeline' | 'answer_to'> & {
      message_id: number | null;
      lead_email: string | null;
      lead_phone: string | null;
    }
  >(ONE, [now, id]);
  const row = rows[0];
  if (!row) throw new AppError('not_found', `no inbound contact ${id}`);
  const { message_id: messageId, lead_email: _email, lead_phone: _phone, ...contact } = row;
  const original = messageId ? ((await db.query<NonNullable<ContactDetail['original']>>(ORIGINAL, [messageId])).rows[0] ?? null) : null;
  const { rows: followUps } = await db.query<ContactDetail['follow_ups'][number]>(FOLLOW_UPS, [id]);
  const { rows: history } = await db.query<ContactDetail['history'][number]>(HISTORY, [id]);
  const { rows: notes } = await db.query<Note>(NOTES, [id]);
  const timeline = row.lead_id ? await leadTimeline(db, row.lead_id, { limit: 100, replies }) : [];
  return { ...contact, answer_to: answerAddresses(row), original, follow_ups: followUps, history, notes, timeline };
}
