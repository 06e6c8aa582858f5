import { DateTime } from 'luxon';
import type pg from 'pg';
import type { Channel } from '../channels/channel.ts';
import { SERVICE_REPLY_PURPOSE } from '../consent/state.ts';
import { statement } from '../db/statement.ts';
import { recordMessages } from '../messages/record.ts';
import { textToHtml } from '../render/html.ts';
import { languageFor, say } from '../render/locale.ts';
import { cannedContextOf, renderCannedAnswer } from './canned.ts';
import { recordContactEvent } from './history.ts';
import type { Queue, Rule } from './rules.ts';

/**
 * The immediate acknowledgement a rule may ask for (`acknowledge:` in inbound.yaml): the person
 * learns that their message arrived and by when they will hear from us (the due time the queue's
 * service level and business hours gave the contact). It is recorded in the same transaction as
 * the contact, once (its idempotency key names the contact), and goes out through the outbox like
 * any answer, as a service message (no marketing consent needed, never to anyone who did not write).
 *
 * Mail loops are what automatic answers risk, so: only people write to get one (automatic replies
 * and bounces are never qualified by rules), it carries `Auto-Submitted: auto-replied` (RFC 3834) so
 * other responders leave it alone, only an identified person gets one, at their address on file, at
 * most one a day each, and never for an opt-out request.
 */
export interface Acknowledged {
  id: number;
  leadId: number | null;
  channel: Channel;
  category: string;
  subject: string | null;
  externalId: string;
  campaignId: string | null;
  dueAt: Date;
}

/** At most one acknowledgement per person in this long, however often they write. */
const ONCE_PER_MS = 86_400_000;

const PERSON = statement(
  'inbound.acknowledgement-person',
  `SELECT l.email, l.phone, l.locale, l.timezone, l.erased_at,
          EXISTS (SELECT 1 FROM messages m WHERE m.lead_id = l.id AND m.step_id = 'acknowledgement' AND m.due_at > $2) AS recent
     FROM leads l WHERE l.id = $1`,
);

/** Records the acknowledgement the rule asks for, when it may go; returns its message id. */
export async function acknowledgeContact(
  client: pg.PoolClient,
  deps: { templatesDir: string },
  contact: Acknowledged,
  rule: Rule | undefined,
  queue: Queue,
  now: Date,
): Promise<number | undefined> {
  if (!rule?.acknowledge || contact.leadId === null || contact.category === 'opt-out') return undefined;
  const { rows } = await client.query<{
    email: string | null;
    phone: string | null;
    locale: string | null;
    timezone: string | null;
    erased_at: Date | null;
    recent: boolean;
  }>(PERSON, [contact.leadId, new Date(now.getTime() - ONCE_PER_MS)]);
  const person = rows[0];
  const to = contact.channel === 'email' ? person?.email : person?.phone;
  if (!person || !to || person.erased_at || person.recent) return undefined;
  const language = languageFor(person.locale);
  const replyBy = DateTime.fromJSDate(contact.dueAt, {
    zone: person.timezone ?? queue.service_level.business_hours?.timezone ?? 'UTC',
  })
    .setLocale(language.lang)
    .toLocaleString({ weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });
  const text =
    typeof rule.acknowledge === 'string'
      ? renderCannedAnswer(
          deps.templatesDir,
          rule.acknowledge,
          person.locale,
          await acknowledgementContext(client, contact.id, queue, replyBy),
        ).text
      : say(language.text.acknowledgement.text, { reply_by: replyBy });
  const email = contact.channel === 'email';
  const subject = contact.subject
    ? /^re:/i.test(contact.subject)
      ? contact.subject
      : `Re: ${contact.subject}`
    : language.text.acknowledgement.subject;
  const [recorded] = await recordMessages(client, [
    {
      idempotencyKey: `acknowledgement:${contact.id}`,
      campaignId: contact.campaignId ?? 'inbox',
      stepId: 'acknowledgement',
      occurrence: `contact-${contact.id}`,
      leadId: contact.leadId,
      channel: contact.channel,
      purpose: SERVICE_REPLY_PURPOSE,
      persona: 'service',
      status: 'queued',
      toAddress: to,
      subject: email ? subject : '',
      bodyText: email ? text : text.replace(/\s+/g, ' ').trim(),
      bodyHtml: email ? textToHtml(text) : '',
      headers: email
        ? {
            'Auto-Submitted': 'auto-replied',
            ...(/^<[^>]+>$/.test(contact.externalId) ? { 'In-Reply-To': contact.externalId, References: contact.externalId } : {}),
          }
        : {},
      dueAt: now,
    },
  ]);
  // Recorded before only if this contact was acknowledged already: then nothing more is due.
  if (!recorded) return undefined;
  await recordContactEvent(client, contact.id, 'acknowledged', 'system', { message_id: recorded.id, channel: contact.channel }, now);
  return recorded.id;
}

/** A canned answer used as an acknowledgement is signed by the queue, and knows the due time. */
async function acknowledgementContext(client: pg.PoolClient, contactId: number, queue: Queue, replyBy: string) {
  const { context } = await cannedContextOf(client, contactId, { name: queue.name ?? queue.id, email: '' });
  return { ...context, reply_by: replyBy };
}
