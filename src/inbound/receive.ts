import type pg from 'pg';
import type { CampaignSet } from '../campaigns/set.ts';
import type { Channel } from '../channels/channel.ts';
import { appendConsentEvents } from '../consent/ledger.ts';
import { statement } from '../db/statement.ts';
import { withTransaction } from '../db/tx.ts';
import { isBounceMail, receiveBounce } from '../deliverability/bounce-mail.ts';
import type { DeliveryReport } from '../deliverability/dsn.ts';
import type { EmitEvents } from '../leads/events.ts';
import { log } from '../log.ts';
import { markReplied } from '../sequences/enrollments.ts';
import { acknowledgeContact } from './acknowledge.ts';
import { messageIdFromAddress, messagesFromHeaders } from './addresses.ts';
import { receiveComplaint, type ComplaintResult } from './complaints.ts';
import { assignFor } from './assign.ts';
import { dueAfter } from './business-hours.ts';
import { emitContactEvent } from './contact-events.ts';
import { answerBySurveyReply } from './csat.ts';
import type { FeedbackReport } from './feedback-report.ts';
import { recordContactEvent } from './history.ts';
import { notifyAgent } from './notify.ts';
import { optOutScope, requestOptOut, withdrawForReply, type OptOutLinks } from './opt-out.ts';
import { countContact } from './metrics.ts';
import { qualify } from './rules.ts';
import { contactOfDelivery, findConversation, joinConversation, markRepeat } from './thread.ts';
import { sentimentOf } from './sentiment.ts';
import type { ContactCategory, IdentifiedBy, Trust } from './schema.ts';

export type ContactKind = 'human' | 'auto-reply' | 'bounce';

/** A reply as it arrived, before we know who wrote it. */
export interface IncomingReply {
  channel: Channel;
  /** The sender's id for this delivery: email Message-ID, Twilio MessageSid. */
  externalId: string;
  kind: ContactKind;
  /** Email address (lowercase; the header From, else the envelope sender) or E.164 number. */
  from: string;
  /** Email: the SMTP envelope sender (MAIL FROM), when known; it may differ from the header From. */
  envelopeFrom?: string;
  to?: string;
  /** Email: every address it was delivered to (envelope, To, Cc, Delivered-To), where a reply token may be. */
  recipients?: string[];
  subject?: string;
  bodyText: string;
  /** The new part, without quoted history. */
  text: string;
  inReplyTo?: string;
  references?: string | string[];
  /** Email: an abuse report from a mailbox provider's feedback loop (RFC 5965), a complaint rather than a contact. */
  feedbackReport?: FeedbackReport;
  /** Email: its delivery status report, when it is one (RFC 3464). */
  report?: DeliveryReport;
}

export interface ReceiveDeps extends OptOutLinks {
  pool: pg.Pool;
  /** Domain of our Message-IDs, to recognise them in In-Reply-To/References. */
  messageDomain: string;
  set: CampaignSet;
  /** Where canned answers live, for acknowledgements that name one. */
  templatesDir: string;
  now: Date;
  /** Where `contact_received` (and a survey answer's `csat_answered`) go, in the same transaction. */
  emit: EmitEvents;
}

export interface Received {
  /** Null for a mail to an unsubscribe address: that is a withdrawal, not a conversation. */
  contactId: number | null;
  duplicate: boolean;
  unsubscribed?: boolean;
  /** The reply joined (or reopened) the person's contact on the same matter instead of opening one (thread.ts). */
  joined?: boolean;
  /** The reply answered a satisfaction survey (and, without a comment, became no contact). */
  csat?: boolean;
  /** The mail was an abuse report (complaints.ts), and what became of it; no contact. */
  complaint?: ComplaintResult;
  /** The mail was a bounce: recorded against its message's address (deliverability/), never a contact. */
  bounce?: boolean;
}

interface RepliedMessage {
  id: number;
  lead_id: number;
  campaign_id: string;
  step_id: string;
  template: string | null;
  channel: Channel;
  purpose: string;
  persona: string;
  enrollment_id: number | null;
}

interface Identity {
  by: IdentifiedBy | null;
  trust: Trust | null;
  leadId: number | null;
  message: RepliedMessage | null;
}

const NOBODY: Identity = { by: null, trust: null, leadId: null, message: null };

const MESSAGE_COLUMNS = 'm.id, m.lead_id, m.campaign_id, m.step_id, m.template, m.channel, m.purpose, m.persona, m.enrollment_id';

/** Sent messages by id; with $2, only those sent to one of these addresses. */
const SENT_MESSAGES = statement(
  'inbound.sent-messages',
  `SELECT ${MESSAGE_COLUMNS} FROM messages m
    WHERE m.id = ANY($1::bigint[]) AND m.status = 'sent' AND ($2::text[] IS NULL OR lower(m.to_address) = ANY($2))`,
);
const LEAD_BY_EMAIL = statement('inbound.lead-by-email', `SELECT id FROM leads WHERE lower(email) = $1 ORDER BY id LIMIT 1`);
/** Our last text to a number, and whether that number is still on file for the person we sent it to. */
const LAST_SMS_TO = statement(
  'inbound.last-sms-to',
  `SELECT ${MESSAGE_COLUMNS}, l.phone = m.to_address AS on_file
     FROM messages m LEFT JOIN leads l ON l.id = m.lead_id
    WHERE m.to_address = $1 AND m.channel = 'sms' AND m.status = 'sent'
    ORDER BY m.sent_at DESC, m.id DESC LIMIT 1`,
);
const LEAD_BY_PHONE = statement('inbound.lead-by-phone', `SELECT id FROM leads WHERE phone = $1 ORDER BY id LIMIT 1`);
const LEAD_LOCALE = statement('inbound.lead-locale', `SELECT locale FROM leads WHERE id = $1`);
const INSERT_CONTACT = statement(
  'inbound.insert-contact',
  `INSERT INTO inbound_contacts (channel, external_id, kind, lead_id, message_id, identified_by, trust, campaign_id, step_id, template,
          from_address, envelope_from, to_address, subject, text, body_text, language, category, priority, queue, rule, status, due_at,
          resolution, received_at, closed_at, sentiment)
   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)
   ON CONFLICT (channel, external_id) DO NOTHING RETURNING id`,
);
const EXISTING_CONTACT = statement(
  'inbound.contact-by-delivery',
  `SELECT id FROM inbound_contacts WHERE channel = $1 AND external_id = $2`,
);
const SET_ASSIGNEE = statement('inbound.set-assignee', `UPDATE inbound_contacts SET status = 'assigned', assignee_id = $2 WHERE id = $1`);
const MESSAGE_OF_ADDRESS = statement(
  'inbound.message-of-unsubscribe-address',
  `SELECT lead_id, channel, purpose FROM messages WHERE id = $1`,
);

/**
 * Who wrote and to which message, and whether that is proven. Verified: the signed reply token in
 * an address it was sent to, our signed Message-ID in In-Reply-To/References, or a text from the
 * number on file answering our last text to that number. Unverified: a sequential Message-ID from
 * before they were signed (honoured only when that message went to the sender's address), the
 * header From, the envelope sender, or a number we never texted. Else nobody, kept for triage.
 */
async function identify(client: pg.PoolClient, deps: ReceiveDeps, reply: IncomingReply): Promise<Identity> {
  const sent = async (ids: number[], sentTo?: string[]) => {
    if (ids.length === 0) return undefined;
    const { rows } = await client.query<RepliedMessage>(SENT_MESSAGES, [ids, sentTo ?? null]);
    return ids.map((id) => rows.find((r) => r.id === id)).find(Boolean);
  };
  const leadByEmail = async (address: string | undefined) =>
    address ? (await client.query<{ id: number }>(LEAD_BY_EMAIL, [address])).rows[0]?.id : undefined;
  const found = (by: IdentifiedBy, trust: Trust, message: RepliedMessage): Identity => ({ by, trust, leadId: message.lead_id, message });

  if (reply.channel === 'email') {
    const tokens = (reply.recipients ?? [])
      .map((r) => messageIdFromAddress(deps.secret, 'reply', r))
      .filter((id): id is number => id !== undefined);
    const byToken = await sent(tokens);
    if (byToken) return found('token', 'verified', byToken);
    const referenced = messagesFromHeaders(deps.secret, deps.messageDomain, reply.inReplyTo, reply.references);
    const bySignedId = await sent(referenced.filter((r) => r.signed).map((r) => r.id));
    if (bySignedId) return found('headers', 'verified', bySignedId);
    const senders = [reply.from, reply.envelopeFrom].filter((a): a is string => Boolean(a));
    const byLegacyId = await sent(
      referenced.filter((r) => !r.signed).map((r) => r.id),
      senders,
    );
    if (byLegacyId) return found('headers', 'unverified', byLegacyId);
    const byFrom = await leadByEmail(reply.from);
    if (byFrom) return { by: 'address', trust: 'unverified', leadId: byFrom, message: null };
    const byEnvelope = reply.envelopeFrom !== reply.from ? await leadByEmail(reply.envelopeFrom) : undefined;
    return byEnvelope ? { by: 'envelope', trust: 'unverified', leadId: byEnvelope, message: null } : NOBODY;
  }
  const { rows: texted } = await client.query<RepliedMessage & { on_file: boolean | null }>(LAST_SMS_TO, [reply.from]);
  if (texted[0]?.on_file) return found('number', 'verified', texted[0]);
  const { rows } = await client.query<{ id: number }>(LEAD_BY_PHONE, [reply.from]);
  return rows[0] ? { by: 'number', trust: 'unverified', leadId: rows[0].id, message: null } : NOBODY;
}

/**
 * Turns a reply into an inbound contact, once per delivery: identified, qualified by inbound.yaml,
 * given its due time and pushed to the least-loaded member of its queue who speaks the person's
 * language and has the skills its rule requires (else the queue lead, see assign.ts). A reply on a
 * matter the person already has a contact for joins (or reopens) that contact instead, and a new
 * contact on the same kind of matter soon after is a repeat contact (thread.ts). Only a verified
 * sender changes anything by itself: their reply pauses the sequence it answers (`unless:
 * [replied]`), and one qualified as an opt-out withdraws consent for the channel and purpose of
 * the campaign replied to. An unverified sender's opt-out becomes a request (see opt-out.ts).
 * Automatic replies are kept, closed, and change nothing else. An abuse report from a feedback
 * loop is no contact at all: complaints.ts acts on it (first: one sent to a return path of ours is
 * still a complaint). Bounces (mail to a return path of ours, or a delivery status report) go to
 * deliverability/ instead, and open nothing.
 */
export async function receiveReply(deps: ReceiveDeps, reply: IncomingReply): Promise<Received> {
  if (reply.feedbackReport) {
    const complaint = await receiveComplaint(deps, reply.feedbackReport, reply.externalId);
    return { contactId: null, duplicate: complaint === 'duplicate', complaint };
  }
  let category: ContactCategory | undefined;
  const received = await withTransaction(deps.pool, async (client): Promise<Received> => {
    if (reply.channel === 'email' && isBounceMail(reply)) {
      const { duplicate } = await receiveBounce(client, deps.secret, reply, deps.now);
      return { contactId: null, duplicate, bounce: true };
    }
    if (await unsubscribeByMail(client, deps, reply)) return { contactId: null, duplicate: false, unsubscribed: true };
    const delivered = await contactOfDelivery(client, reply.channel, reply.externalId);
    if (delivered !== undefined) return { contactId: delivered, duplicate: true };
    const who = await identify(client, deps, reply);
    const lead = who.leadId ? (await client.query<{ locale: string | null }>(LEAD_LOCALE, [who.leadId])).rows[0] : undefined;
    const language = lead?.locale?.split(/[-_]/)[0]?.toLowerCase() ?? null;
    const campaign = who.message ? deps.set.campaigns.get(who.message.campaign_id) : undefined;
    const human = reply.kind === 'human';
    const verified = who.trust === 'verified';
    // A digit answering a survey is an answer, not a matter; a comment with it goes to the queue that handled the contact.
    const survey = human && who.message ? await answerBySurveyReply(client, deps.emit, who.message.id, reply, deps.now) : undefined;
    if (survey && !survey.comment) return { contactId: null, duplicate: false, csat: true };
    const qualified = qualify(deps.set.inbound, {
      text: reply.text,
      channel: reply.channel,
      campaign,
      persona: who.message?.persona,
      language: language ?? undefined,
    });
    const q = survey?.queue ? { ...qualified, queue: survey.queue } : qualified;
    const pauseSequence = async () => {
      if (verified && who.message?.enrollment_id) await markReplied(client, who.message.enrollment_id, deps.now);
    };

    // A survey's comment is a matter of its own, in the queue that handled the contact surveyed.
    if (human && !survey && q.category !== 'opt-out') {
      const key = {
        leadId: who.leadId,
        from: reply.from,
        channel: reply.channel,
        campaignId: campaign?.id ?? null,
        messageId: who.message?.id ?? null,
      };
      const conversation = await findConversation(client, key, deps.now);
      if (conversation) {
        const added = await joinConversation(client, deps.set.inbound, conversation, { ...reply, priority: q.priority }, deps.now);
        if (added) await pauseSequence();
        return { contactId: conversation.id, duplicate: !added, joined: added };
      }
    }

    const sentiment = human ? sentimentOf(reply.text, language) : null;
    const queue = deps.set.inbound.queues.find((x) => x.id === q.queue)!;
    const dueAt = human ? dueAfter(deps.now, queue.service_level.first_response, queue.service_level.business_hours) : null;
    const { rows } = await client.query<{ id: number }>(INSERT_CONTACT, [
      reply.channel,
      reply.externalId,
      reply.kind,
      who.leadId,
      who.message?.id ?? null,
      who.by,
      who.trust,
      who.message?.campaign_id ?? null,
      who.message?.step_id ?? null,
      who.message?.template ?? null,
      reply.from,
      reply.envelopeFrom ?? null,
      reply.to ?? null,
      reply.subject ?? null,
      reply.text,
      reply.bodyText,
      language,
      human ? q.category : 'other',
      human ? q.priority : 'low',
      human ? q.queue : null,
      human ? q.rule : null,
      human ? 'new' : 'closed',
      dueAt,
      human ? null : reply.kind,
      deps.now,
      human ? null : deps.now,
      sentiment,
    ]);
    if (!rows[0]) {
      const { rows: existing } = await client.query<{ id: number }>(EXISTING_CONTACT, [reply.channel, reply.externalId]);
      return { contactId: existing[0]!.id, duplicate: true };
    }
    const contactId = rows[0].id;
    category = human ? q.category : 'other';
    const repeat = human ? await markRepeat(client, { id: contactId, leadId: who.leadId, category: q.category }, deps.now) : undefined;
    await recordContactEvent(
      client,
      contactId,
      'received',
      'system',
      {
        identified_by: who.by,
        trust: who.trust,
        kind: reply.kind,
        category: q.category,
        rule: q.rule,
        ...(repeat ? { repeat_of: repeat.repeatOf } : {}),
      },
      deps.now,
    );
    if (!human) return { contactId, duplicate: false };

    await pauseSequence();
    if (q.category === 'opt-out' && who.leadId) {
      const scope = optOutScope(who.message, reply.channel);
      const contact = { id: contactId, leadId: who.leadId, rule: q.rule };
      if (verified) await withdrawForReply(client, contact, scope, deps.now);
      else await requestOptOut(client, deps, contact, scope, deps.now);
    }
    // A repeat contact is offered first to whoever had the earlier one; who gets it when nobody fits, and why, goes into its history.
    const { assignee, reason } = await assignFor(client, queue, { language, skills: q.skills }, repeat?.assigneeId);
    if (assignee) {
      await client.query(SET_ASSIGNEE, [contactId, assignee.id]);
      await notifyAgent(
        client,
        { key: `assigned:${contactId}:${assignee.id}:received`, userId: assignee.id, contactId, kind: 'assigned' },
        deps.now,
      );
    } else log.warn('nobody can take the contact; it waits in the queue', { contact: contactId, queue: queue.id, reason });
    await recordContactEvent(
      client,
      contactId,
      assignee ? 'assigned' : 'waiting',
      'system',
      { to: assignee?.email ?? null, queue: queue.id, ...(reason ? { reason } : {}) },
      deps.now,
    );
    // The acknowledgement its rule may ask for, recorded with the contact: never lost, never twice.
    const contact = { id: contactId, leadId: who.leadId, channel: reply.channel, category: q.category, dueAt: dueAt! };
    const origin = { subject: reply.subject ?? null, externalId: reply.externalId, campaignId: who.message?.campaign_id ?? null };
    const rule = deps.set.inbound.rules.find((r) => r.id === q.rule);
    await acknowledgeContact(client, deps, { ...contact, ...origin }, rule, queue, deps.now);
    // Last, so what it triggers sees the contact as it stands (an opt-out already withdrawn).
    await emitContactEvent(client, deps.emit, {
      leadId: who.leadId,
      name: 'contact_received',
      key: `contact:${contactId}:received`,
      properties: {
        contact: contactId,
        category: q.category,
        priority: q.priority,
        campaign: who.message?.campaign_id ?? null,
        step: who.message?.step_id ?? null,
        queue: q.queue,
        channel: reply.channel,
        sentiment,
      },
      at: deps.now,
    });
    return { contactId, duplicate: false, ...(survey ? { csat: true } : {}) };
  });
  // Counted once committed, so a delivery whose transaction failed (and that its sender retries) counts once.
  if (category) countContact({ channel: reply.channel, kind: reply.kind, category });
  return received;
}

/**
 * Mail to the `mailto:` of a List-Unsubscribe header withdraws consent for that message's channel
 * and purpose, whatever it says (RFC 2369 asks for nothing more). Bounces and auto-replies to that
 * address change nothing.
 */
async function unsubscribeByMail(client: pg.PoolClient, deps: ReceiveDeps, reply: IncomingReply): Promise<boolean> {
  if (reply.channel !== 'email') return false;
  const id = (reply.recipients ?? []).map((r) => messageIdFromAddress(deps.secret, 'unsubscribe', r)).find((m) => m !== undefined);
  if (id === undefined) return false;
  if (reply.kind !== 'human') return true;
  const { rows } = await client.query<{ lead_id: number; channel: Channel; purpose: string }>(MESSAGE_OF_ADDRESS, [id]);
  const message = rows[0];
  if (message) {
    await appendConsentEvents(client, [
      {
        leadId: message.lead_id,
        channel: message.channel,
        purpose: message.purpose,
        action: 'withdraw',
        source: 'unsubscribe-mailto',
        actor: 'recipient',
        evidence: { message_id: id, mail_id: reply.externalId },
        occurredAt: deps.now,
        asItHappens: true,
      },
    ]);
  }
  return true;
}
