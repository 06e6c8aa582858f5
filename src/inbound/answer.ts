import type pg from 'pg';
import type { Channel } from '../channels/channel.ts';
import { SERVICE_REPLY_PURPOSE } from '../consent/state.ts';
import { statement } from '../db/statement.ts';
import { withTransaction } from '../db/tx.ts';
import { AppError } from '../errors.ts';
import { leadWithAddress, saveLeads } from '../leads/store.ts';
import { recordMessages } from '../messages/record.ts';
import { textToHtml } from '../render/html.ts';
import { answerAddresses, type Actor } from './contacts.ts';
import { recordContactEvent } from './history.ts';
import { lockContact } from './workflow.ts';

const CONTACT = statement(
  'inbound.contact-to-answer',
  `SELECT c.lead_id, c.channel, c.from_address AS "from", c.subject, c.external_id, c.campaign_id, l.email AS lead_email, l.phone AS lead_phone,
          (SELECT count(*)::int FROM inbound_contact_events e WHERE e.contact_id = c.id AND e.action = 'replied') AS replies
     FROM inbound_contacts c LEFT JOIN leads l ON l.id = c.lead_id WHERE c.id = $1`,
);
const LINK_LEAD = statement('inbound.link-lead', `UPDATE inbound_contacts SET lead_id = $2 WHERE id = $1`);
const ANSWERED = statement(
  'inbound.answered',
  `UPDATE inbound_contacts SET status = 'accepted', assignee_id = coalesce(assignee_id, $2), accepted_at = coalesce(accepted_at, $3), lead_id = $4
    WHERE id = $1`,
);

interface ContactToAnswer {
  lead_id: number | null;
  channel: Channel;
  from: string;
  subject: string | null;
  external_id: string;
  campaign_id: string | null;
  lead_email: string | null;
  lead_phone: string | null;
  replies: number;
}

/**
 * Answers through the outbox and the normal channel adapters (retries, crash safety), on the
 * channel the contact came in on unless another is asked for, to the address `answerAddresses`
 * names: an identified person's address on file, never the address a reply merely claimed to come
 * from. Answering takes the contact on. Someone we could not identify becomes a lead, so the
 * answer and what follows land in one history.
 */
export async function replyToContact(
  pool: pg.Pool,
  id: number,
  reply: { text: string; subject?: string; channel?: Channel },
  actor: Actor,
  now: Date,
): Promise<{ messageId: number }> {
  return withTransaction(pool, async (client) => {
    await lockContact(client, id, ['new', 'assigned', 'accepted'], 'answered');
    const { rows } = await client.query<ContactToAnswer>(CONTACT, [id]);
    const contact = rows[0]!;
    const channel = reply.channel ?? contact.channel;
    const to = answerAddresses(contact)[channel];
    if (!to)
      throw new AppError(
        'unprocessable',
        contact.lead_id === null
          ? `the sender is not identified; answer by ${contact.channel}, where they wrote from`
          : `this person has no ${channel === 'email' ? 'email address' : 'phone number'} on file; answer by ${channel === 'email' ? 'sms' : 'email'}`,
      );
    const leadId = contact.lead_id ?? (await leadForSender(client, id, contact.channel, contact.from));
    const subject =
      reply.subject ??
      (contact.subject ? (/^re:/i.test(contact.subject) ? contact.subject : `Re: ${contact.subject}`) : 'Re: your message');
    const threaded: Record<string, string> =
      channel === 'email' && contact.channel === 'email' && /^<[^>]+>$/.test(contact.external_id)
        ? { 'In-Reply-To': contact.external_id, References: contact.external_id }
        : {};
    const [recorded] = await recordMessages(client, [
      {
        idempotencyKey: `reply:${id}:${contact.replies + 1}`,
        campaignId: contact.campaign_id ?? 'inbox',
        stepId: 'reply',
        occurrence: `contact-${id}`,
        leadId,
        channel,
        purpose: SERVICE_REPLY_PURPOSE,
        persona: 'service',
        status: 'queued',
        toAddress: to,
        subject: channel === 'email' ? subject : '',
        bodyText: reply.text,
        bodyHtml: channel === 'email' ? textToHtml(reply.text) : '',
        headers: threaded,
        dueAt: now,
      },
    ]);
    const messageId = recorded!.id;
    await client.query(ANSWERED, [id, actor.userId ?? null, now, leadId]);
    await recordContactEvent(client, id, 'replied', actor.label, { message_id: messageId, channel, text: reply.text.slice(0, 2000) }, now);
    return { messageId };
  });
}

/**
 * The lead an unidentified sender becomes when answered, created like every lead (an erased
 * person's withdrawals carry over to it); an existing one for the same address is reused.
 */
async function leadForSender(client: pg.PoolClient, contactId: number, channel: Channel, address: string): Promise<number> {
  const [lead] = await saveLeads(
    client,
    [leadWithAddress(`inbound:${address}`, channel === 'email' ? { email: address } : { phone: address }, ['inbound'])],
    { existing: 'keep' },
  );
  await client.query(LINK_LEAD, [contactId, lead!.id]);
  return lead!.id;
}
