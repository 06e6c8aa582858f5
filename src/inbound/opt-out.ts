import type pg from 'pg';
import { unsubscribeUrlFor } from '../campaigns/compose.ts';
import type { Channel } from '../channels/channel.ts';
import { appendConsentEvents } from '../consent/ledger.ts';
import { OPT_OUT_CONFIRMATION_PURPOSE, UNGATED_PURPOSES } from '../consent/state.ts';
import { statement } from '../db/statement.ts';
import { withTransaction } from '../db/tx.ts';
import { AppError } from '../errors.ts';
import { recordMessages } from '../messages/record.ts';
import { textToHtml } from '../render/html.ts';
import { languageFor, say, whatOf } from '../render/locale.ts';
import type { Actor } from './contacts.ts';
import { recordContactEvent } from './history.ts';
import type { IdentifiedBy, Trust } from './schema.ts';
import { lockContact } from './workflow.ts';

/**
 * What a reply asking to opt out may change. From a verified sender it withdraws at once. From an
 * unverified one (anyone can write a customer's address into From) it changes nothing by itself:
 * the contact asks to opt out, a confirmation link goes to the address on file, and the opt-out is
 * recorded when that link is used or when an agent who checked records it.
 */

/** The consent an opt-out is about. */
export interface OptOutScope {
  channel: Channel;
  purpose: string;
}

/**
 * The channel and purpose of the message answered; marketing on the reply's channel when we do not
 * know it, or when it was a message nobody opts into (a service answer, a confirmation).
 */
export function optOutScope(answered: { channel: Channel; purpose: string } | null, channel: Channel): OptOutScope {
  if (answered && !UNGATED_PURPOSES.has(answered.purpose)) return { channel: answered.channel, purpose: answered.purpose };
  return { channel: answered?.channel ?? channel, purpose: 'marketing' };
}

/** A verified sender's opt-out reply: withdrawn at once, with the contact as evidence. */
export async function withdrawForReply(
  client: pg.PoolClient,
  contact: { id: number; leadId: number; rule: string | null },
  scope: OptOutScope,
  now: Date,
): Promise<void> {
  // The ledger keeps ids, never the words or addresses of the reply: those live in the contact,
  // which erasure can empty, while the ledger is append-only.
  await appendConsentEvents(client, [
    {
      leadId: contact.leadId,
      ...scope,
      action: 'withdraw',
      source: 'reply-opt-out',
      actor: 'recipient',
      evidence: { contact_id: contact.id, rule: contact.rule },
      occurredAt: now,
      asItHappens: true,
    },
  ]);
  await recordContactEvent(client, contact.id, 'consent-withdrawn', 'system', { ...scope }, now);
}

/** What the confirmation link needs: the public URL and the key that signs it. */
export interface OptOutLinks {
  publicUrl: string;
  secret: string;
}

/** A confirmation link goes to one person at most this often, however many forged requests arrive. */
const CONFIRMATION_INTERVAL_MS = 24 * 3_600_000;

const CONFIRMATION_TARGET = statement(
  'inbound.opt-out-confirmation-target',
  `SELECT CASE WHEN $2 = 'email' THEN l.email ELSE l.phone END AS address, l.locale,
          coalesce(s.status IN ('granted', 'confirmed'), false) AS consented,
          EXISTS (SELECT 1 FROM messages m WHERE m.lead_id = l.id AND m.purpose = $4 AND m.due_at > $5) AS recent
     FROM leads l LEFT JOIN consent_state s ON s.lead_id = l.id AND s.channel = $2 AND s.purpose = $3
    WHERE l.id = $1`,
);

/** The confirmation request in the person's language. */
function confirmationText(scope: OptOutScope, url: string, locale: string | null): { subject: string; text: string } {
  const { text: words } = languageFor(locale);
  const values = { what: whatOf(words, scope.purpose, scope.channel), url };
  if (scope.channel === 'sms') return { subject: '', text: say(words.optOutRequest.sms, values) };
  return { subject: say(words.optOutRequest.subject, values), text: say(words.optOutRequest.text, values) };
}

/**
 * An unverified sender's opt-out reply: the contact records the request, and the person gets a
 * signed unsubscribe link at the address on file (never at the sender's), through the outbox. Its
 * withdrawal names this request as its message, beside the IP and user agent of the click. No link
 * goes out when there is no standing consent to withdraw, the person has no address on that
 * channel, or one went out within the last day.
 */
export async function requestOptOut(
  client: pg.PoolClient,
  links: OptOutLinks,
  contact: { id: number; leadId: number },
  scope: OptOutScope,
  now: Date,
): Promise<void> {
  const { rows } = await client.query<{ address: string | null; locale: string | null; consented: boolean; recent: boolean }>(
    CONFIRMATION_TARGET,
    [contact.leadId, scope.channel, scope.purpose, OPT_OUT_CONFIRMATION_PURPOSE, new Date(now.getTime() - CONFIRMATION_INTERVAL_MS)],
  );
  const target = rows[0]!;
  const unsent = !target.consented
    ? 'no standing consent to withdraw'
    : !target.address
      ? `no ${scope.channel === 'email' ? 'email address' : 'phone number'} on file`
      : target.recent
        ? 'a confirmation link went out within the last day'
        : undefined;
  let confirmation: number | null = null;
  if (!unsent) {
    const url = unsubscribeUrlFor(links, contact.leadId, scope.channel, scope.purpose, `opt-out-request:${contact.id}`);
    const { subject, text } = confirmationText(scope, url, target.locale);
    const [recorded] = await recordMessages(client, [
      {
        idempotencyKey: `opt-out-confirmation:${contact.id}`,
        campaignId: 'inbox',
        stepId: 'opt-out-confirmation',
        occurrence: `contact-${contact.id}`,
        leadId: contact.leadId,
        channel: scope.channel,
        purpose: OPT_OUT_CONFIRMATION_PURPOSE,
        persona: 'service',
        status: 'queued',
        toAddress: target.address,
        subject,
        bodyText: text,
        bodyHtml: scope.channel === 'email' ? textToHtml(text) : '',
        headers: {},
        dueAt: now,
      },
    ]);
    confirmation = recorded?.id ?? null;
  }
  await recordContactEvent(
    client,
    contact.id,
    'opt-out-requested',
    'system',
    { ...scope, trust: 'unverified', confirmation_message: confirmation, no_confirmation: unsent ?? null },
    now,
  );
}

const CONTACT_TO_OPT_OUT = statement(
  'inbound.contact-to-opt-out',
  `SELECT c.lead_id, c.channel, c.identified_by, c.trust, m.channel AS message_channel, m.purpose AS message_purpose
     FROM inbound_contacts c LEFT JOIN messages m ON m.id = c.message_id WHERE c.id = $1`,
);

/**
 * An agent records the opt-out a contact asks for (typically after checking an unverified
 * request with the person): withdrawn with the agent as actor and the contact as evidence.
 */
export async function optOutByAgent(pool: pg.Pool, id: number, actor: Actor, now: Date): Promise<{ eventId: number }> {
  return withTransaction(pool, async (client) => {
    await lockContact(client, id, ['new', 'assigned', 'accepted'], 'opted out');
    const { rows } = await client.query<{
      lead_id: number | null;
      channel: Channel;
      identified_by: IdentifiedBy | null;
      trust: Trust | null;
      message_channel: Channel | null;
      message_purpose: string | null;
    }>(CONTACT_TO_OPT_OUT, [id]);
    const contact = rows[0]!;
    if (!contact.lead_id)
      throw new AppError('unprocessable', `contact ${id} is from an unidentified sender: there is nobody whose consent could be withdrawn`);
    const answered = contact.message_channel ? { channel: contact.message_channel, purpose: contact.message_purpose! } : null;
    const scope = optOutScope(answered, contact.channel);
    const [eventId] = await appendConsentEvents(client, [
      {
        leadId: contact.lead_id,
        ...scope,
        action: 'withdraw',
        source: 'agent-opt-out',
        actor: actor.label,
        evidence: { contact_id: id, identified_by: contact.identified_by, trust: contact.trust },
        occurredAt: now,
        asItHappens: true,
      },
    ]);
    await recordContactEvent(client, id, 'consent-withdrawn', actor.label, { ...scope, consent_event: eventId }, now);
    return { eventId: eventId! };
  });
}
