import type pg from 'pg';
import type { Channel } from '../channels/channel.ts';
import { LOCKS, lockForTransaction } from '../db/locks.ts';
import { statement } from '../db/statement.ts';
import { assignFor, type Needs } from './assign.ts';
import { dueAfter } from './business-hours.ts';
import { recordContactEvent } from './history.ts';
import type { InboundRules } from './rules.ts';
import { PRIORITIES, type ContactCategory, type ContactStatus, type Priority } from './schema.ts';

/**
 * One conversation per person and matter. A reply from someone whose contact is still open joins
 * it, when it answers the service team's answer on that contact, comes from the same campaign, or
 * comes on the same channel within 3 days of their last message there; the same reply to a
 * contact closed within the last 7 days reopens it. A new contact of the same person and category
 * within 14 days of an earlier one is a repeat contact. Opt-outs are no matter of their own: they
 * never join, reopen or repeat anything (they change consent, see opt-out.ts).
 */

export const JOIN_WINDOW = '3 days';
export const REOPEN_WINDOW = '7 days';
export const REPEAT_WINDOW = '14 days';

/** Where a reply comes from, and what it answers. */
export interface ReplyKey {
  leadId: number | null;
  /** The sender's address: an unidentified sender's conversations are theirs by address. */
  from: string;
  channel: Channel;
  /** The campaign replied to, when it is one of ours. */
  campaignId: string | null;
  /** The message replied to: when it is the service team's answer on a contact, the reply belongs there. */
  messageId: number | null;
}

/** A contact a reply joins or reopens, locked for the change. */
export interface Conversation {
  id: number;
  status: ContactStatus;
  assignee_id: number | null;
  queue: string | null;
  priority: Priority;
  language: string | null;
  rule: string | null;
  due_at: Date | null;
  /** Whether the team answered since the person last wrote. */
  answered: boolean;
}

const LAST_WROTE = 'coalesce(c.last_received_at, c.received_at)';

const CONVERSATION = statement(
  'inbound.conversation-of-reply',
  `WITH answered AS (
     SELECT substring(m.occurrence from '^contact-([0-9]+)$')::bigint AS id FROM messages m WHERE m.id = $5 AND m.step_id = 'reply')
   SELECT c.id, c.status, c.assignee_id, c.queue, c.priority, c.language, c.rule, c.due_at,
          EXISTS (SELECT 1 FROM inbound_contact_events e WHERE e.contact_id = c.id AND e.action = 'replied' AND e.at >= ${LAST_WROTE}) AS answered
     FROM inbound_contacts c
    WHERE c.kind = 'human' AND c.category <> 'opt-out'
      AND CASE WHEN $1::bigint IS NULL THEN c.lead_id IS NULL AND c.from_address = $2 ELSE c.lead_id = $1 END
      AND (c.id IN (SELECT id FROM answered) OR c.campaign_id = $4 OR (c.channel = $3 AND ${LAST_WROTE} >= $6::timestamptz - interval '${JOIN_WINDOW}'))
      AND (c.status <> 'closed' OR (c.closed_at >= $6::timestamptz - interval '${REOPEN_WINDOW}' AND c.resolution IS DISTINCT FROM 'erased'))
    ORDER BY c.id IN (SELECT id FROM answered) DESC, c.status <> 'closed' DESC, ${LAST_WROTE} DESC, c.id DESC
    LIMIT 1
    FOR UPDATE OF c`,
);
const ADD_MESSAGE = statement(
  'inbound.add-contact-message',
  `INSERT INTO inbound_contact_messages (contact_id, channel, external_id, from_address, subject, text, body_text, received_at)
   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (channel, external_id) DO NOTHING RETURNING id`,
);
const DELIVERED = statement(
  'inbound.contact-of-delivery',
  `SELECT id FROM inbound_contacts WHERE channel = $1 AND external_id = $2
   UNION ALL
   SELECT contact_id FROM inbound_contact_messages WHERE channel = $1 AND external_id = $2
   LIMIT 1`,
);
const FOLLOW_UP = statement(
  'inbound.follow-up',
  `UPDATE inbound_contacts SET last_received_at = $2, due_at = $3, priority = $4, escalated_at = CASE WHEN $5 THEN NULL ELSE escalated_at END
    WHERE id = $1`,
);
const REOPEN = statement(
  'inbound.reopen',
  `UPDATE inbound_contacts
      SET status = $2, assignee_id = $3, queue = $4, due_at = $5, priority = $6, last_received_at = $7,
          accepted_at = NULL, closed_at = NULL, resolution = NULL, escalated_at = NULL, escalated_to = NULL
    WHERE id = $1`,
);
const EARLIER = statement(
  'inbound.earlier-contact',
  `SELECT c.id, c.assignee_id FROM inbound_contacts c
    WHERE c.lead_id = $1 AND c.category = $2 AND c.kind = 'human' AND c.id <> $3
      AND coalesce(c.closed_at, ${LAST_WROTE}) >= $4::timestamptz - interval '${REPEAT_WINDOW}'
    ORDER BY c.received_at DESC, c.id DESC LIMIT 1`,
);
const MARK_REPEAT = statement('inbound.mark-repeat', `UPDATE inbound_contacts SET repeat_of = $2 WHERE id = $1`);

/** The contact a delivery already landed on (as its first reply or a later message), if it did. */
export async function contactOfDelivery(client: pg.PoolClient, channel: Channel, externalId: string): Promise<number | undefined> {
  const { rows } = await client.query<{ id: number }>(DELIVERED, [channel, externalId]);
  return rows[0]?.id;
}

/**
 * The open (or recently closed) contact a person's reply belongs to, locked; none for a new matter.
 * The person's replies are serialised until the transaction ends, so that two arriving together
 * (a long text split in two, say) never both find no contact and open one each.
 */
export async function findConversation(client: pg.PoolClient, key: ReplyKey, now: Date): Promise<Conversation | undefined> {
  await lockForTransaction(client, LOCKS.conversation, key.leadId !== null ? `lead:${key.leadId}` : `from:${key.from}`);
  const { rows } = await client.query<Conversation>(CONVERSATION, [key.leadId, key.from, key.channel, key.campaignId, key.messageId, now]);
  return rows[0];
}

/** A later message of the person, as received. */
export interface FollowUp {
  channel: Channel;
  externalId: string;
  from: string;
  subject?: string;
  text: string;
  bodyText: string;
  /** The priority its own words qualify for: the contact takes it when it is more urgent. */
  priority: Priority;
}

/**
 * Adds the person's message to their conversation. On an open contact, the due time stays while
 * the team has not answered since the person last wrote (they still owe the first response, and
 * writing again must not push it back); once answered, the new message is due for an answer
 * within the queue's first-response time from now. A closed contact reopens: to the agent who
 * had it when they are still an available member of the queue, else as a new contact of the
 * queue would be assigned (assign.ts), due from now. False when this delivery was there already.
 */
export async function joinConversation(
  client: pg.PoolClient,
  rules: InboundRules,
  contact: Conversation,
  message: FollowUp,
  now: Date,
): Promise<boolean> {
  const { rows } = await client.query<{ id: number }>(ADD_MESSAGE, [
    contact.id,
    message.channel,
    message.externalId,
    message.from,
    message.subject ?? null,
    message.text,
    message.bodyText,
    now,
  ]);
  if (!rows[0]) return false;
  const queue = rules.queues.find((q) => q.id === contact.queue) ?? rules.queues.find((q) => q.id === rules.default_queue)!;
  const dueFromNow = dueAfter(now, queue.service_level.first_response, queue.service_level.business_hours);
  const priority = PRIORITIES[Math.max(PRIORITIES.indexOf(contact.priority), PRIORITIES.indexOf(message.priority))]!;
  const detail = { contact_message: rows[0].id, channel: message.channel };
  if (contact.status !== 'closed') {
    const dueAt = contact.answered ? dueFromNow : contact.due_at;
    await client.query(FOLLOW_UP, [contact.id, now, dueAt, priority, contact.answered]);
    await recordContactEvent(client, contact.id, 'message', 'system', { ...detail, due_at: dueAt }, now);
    return true;
  }
  const needs: Needs = { language: contact.language, skills: ruleSkills(rules, contact.rule) };
  const { assignee, reason } = await assignFor(client, queue, needs, contact.assignee_id);
  await client.query(REOPEN, [contact.id, assignee ? 'assigned' : 'new', assignee?.id ?? null, queue.id, dueFromNow, priority, now]);
  await recordContactEvent(
    client,
    contact.id,
    'reopened',
    'system',
    { ...detail, to: assignee?.email ?? null, queue: queue.id, ...(reason ? { reason } : {}) },
    now,
  );
  return true;
}

/** Skills the rule that qualified a contact requires (none when that rule is gone from inbound.yaml). */
export function ruleSkills(rules: InboundRules, rule: string | null): string[] {
  return rules.rules.find((r) => r.id === rule)?.skills ?? [];
}

/**
 * Marks a new contact as a repeat of the person's latest contact of the same category within 14
 * days (counted from when that one closed, or from their last message while it is open), and
 * returns the earlier contact's agent, to be offered the new one first.
 */
export async function markRepeat(
  client: pg.PoolClient,
  contact: { id: number; leadId: number | null; category: ContactCategory },
  now: Date,
): Promise<{ repeatOf: number; assigneeId: number | null } | undefined> {
  if (contact.leadId === null || contact.category === 'opt-out') return undefined;
  const { rows } = await client.query<{ id: number; assignee_id: number | null }>(EARLIER, [
    contact.leadId,
    contact.category,
    contact.id,
    now,
  ]);
  if (!rows[0]) return undefined;
  await client.query(MARK_REPEAT, [contact.id, rows[0].id]);
  return { repeatOf: rows[0].id, assigneeId: rows[0].assignee_id };
}
