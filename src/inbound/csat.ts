import type pg from 'pg';
import { statement } from '../db/statement.ts';
import { inTransaction } from '../db/tx.ts';
import { AppError } from '../errors.ts';
import type { EmitEvents } from '../leads/events.ts';
import { emitContactEvent } from './contact-events.ts';
import { firstReceipt } from './receipts.ts';

/**
 * Satisfaction (CSAT): one question, 1–5, about one closed contact. Answered on the survey page
 * (a signed link) or by replying to the survey message with the digit. A contact has one answer:
 * answering again replaces it (people change their mind, and a second tap must not count twice),
 * and each answer emits its own `csat_answered` event.
 */

export type CsatVia = 'link' | 'email' | 'sms';

const CONTACT = statement(
  'inbound.csat-contact',
  `SELECT c.lead_id, c.assignee_id, c.queue, c.campaign_id, c.step_id
     FROM inbound_contacts c LEFT JOIN leads l ON l.id = c.lead_id
    WHERE c.id = $1 AND c.kind = 'human' AND l.erased_at IS NULL`,
);
const UPSERT = statement(
  'inbound.csat-answer',
  `INSERT INTO csat_answers (contact_id, lead_id, score, comment, via, agent_id, queue, campaign_id, step_id, answered_at)
   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
   ON CONFLICT (contact_id) DO UPDATE SET score = EXCLUDED.score, comment = EXCLUDED.comment, via = EXCLUDED.via,
          answered_at = EXCLUDED.answered_at, version = csat_answers.version + 1
   RETURNING version`,
);
/**
 * The contact a message surveys: the message is of a service sequence started by `contact_closed`,
 * whose `contact` property names the contact closed. That is what a survey is (README, Closing the loop).
 */
const SURVEYED_BY_MESSAGE = statement(
  'inbound.csat-surveyed-by-message',
  `SELECT c.id AS contact_id, c.queue
     FROM messages m JOIN enrollments e ON e.id = m.enrollment_id JOIN events ev ON ev.id = e.trigger_event_id
     JOIN inbound_contacts c ON c.id = (ev.properties->>'contact')::bigint
    WHERE m.id = $1 AND m.purpose = 'service' AND ev.name = 'contact_closed' AND ev.properties ? 'contact'`,
);

/** Records (or replaces) the answer about a contact and emits `csat_answered`, in one transaction. */
export async function answerCsat(
  db: pg.Pool | pg.PoolClient,
  emit: EmitEvents,
  answer: { contactId: number; score: number; comment?: string; via: CsatVia },
  now: Date,
): Promise<void> {
  await inTransaction(db, async (client) => {
    const { rows } = await client.query<{
      lead_id: number | null;
      assignee_id: number | null;
      queue: string | null;
      campaign_id: string | null;
      step_id: string | null;
    }>(CONTACT, [answer.contactId]);
    const c = rows[0];
    if (!c) throw new AppError('not_found', `no contact ${answer.contactId} to answer a survey about`);
    const { rows: saved } = await client.query<{ version: number }>(UPSERT, [
      answer.contactId,
      c.lead_id,
      answer.score,
      answer.comment ?? null,
      answer.via,
      c.assignee_id,
      c.queue,
      c.campaign_id,
      c.step_id,
      now,
    ]);
    await emitContactEvent(client, emit, {
      leadId: c.lead_id,
      name: 'csat_answered',
      key: `contact:${answer.contactId}:csat:${saved[0]!.version}`,
      properties: { contact: answer.contactId, score: answer.score },
      at: now,
    });
  });
}

/**
 * A reply to a survey message that starts with a digit is the answer (once per delivery, however
 * often it is retried). Returns the queue that handled the contact surveyed, where a comment
 * with the answer goes as a new contact; undefined when this reply answers no survey.
 */
export async function answerBySurveyReply(
  client: pg.PoolClient,
  emit: EmitEvents,
  messageId: number,
  reply: { channel: 'email' | 'sms'; externalId: string; text: string },
  now: Date,
): Promise<{ comment?: string; queue: string | null } | undefined> {
  const answer = surveyReply(reply.text);
  if (!answer) return undefined;
  const { rows } = await client.query<{ contact_id: number; queue: string | null }>(SURVEYED_BY_MESSAGE, [messageId]);
  const surveyed = rows[0];
  if (!surveyed) return undefined;
  if (await firstReceipt(client, `csat-${reply.channel}`, reply.externalId, 'csat')) {
    await answerCsat(client, emit, { contactId: surveyed.contact_id, ...answer, via: reply.channel }, now);
  }
  return { comment: answer.comment, queue: surveyed.queue };
}

/**
 * A reply that answers a survey: a digit 1–5 first ("2", "4 - quick and kind"), the rest a comment.
 * Anything else ("12", "thanks") is an ordinary reply.
 */
export function surveyReply(text: string): { score: number; comment?: string } | undefined {
  const m = /^\s*([1-5])(?![0-9])[\s.,:;!)/-]*([\s\S]*)$/.exec(text);
  if (!m) return undefined;
  const comment = m[2]!.trim();
  return { score: Number(m[1]), ...(comment ? { comment } : {}) };
}
