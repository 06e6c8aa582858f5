import type pg from 'pg';
import type { Channel } from '../channels/channel.ts';
import { leadsByIds } from '../leads/store.ts';
import { recordMessages } from '../messages/record.ts';
import { textToHtml } from '../render/html.ts';
import { languageFor, say, whatOf } from '../render/locale.ts';
import { proofNotice, type NoticeStore } from './notices.ts';
import { RECEIPT_PURPOSE, type ConsentAction } from './state.ts';
import { signToken } from './tokens.ts';

/** What a receipt needs besides the event: where links point, the key that signs them, the notice texts. */
export interface ReceiptDeps {
  publicUrl: string;
  secret: string;
  notices: NoticeStore;
}

/** One consent event as it was recorded, the subject of its receipt. */
export interface ReceiptEvent {
  id: number;
  leadId: number;
  channel: Channel;
  purpose: string;
  action: ConsentAction;
  source: string;
  occurredAt: Date;
  notice?: { version: string; hash: string };
}

/**
 * Queues the email telling the person what was just recorded about their consent (CONSENT_RECEIPTS),
 * in the transaction of the event: a receipt exists exactly when its event does, and its key
 * `receipt:<event id>` keeps it to one. It goes through the outbox like the double opt-in mail, to
 * the address on file whatever the event's channel; a person without one gets none. Bulk imports
 * never come here: an import is history, not a person's act.
 */
export async function queueReceipt(client: pg.PoolClient, deps: ReceiptDeps, event: ReceiptEvent, now: Date): Promise<number | null> {
  const lead = (await leadsByIds(client, [event.leadId])).get(event.leadId);
  if (!lead?.email) return null;
  const key = `receipt:${event.id}`;
  const { text } = languageFor(lead.locale);
  const words = text.receipt;
  const stored = event.notice ? proofNotice(deps.notices, event.purpose, event.notice.version, event.notice.hash) : null;
  const notice = !stored
    ? words.noNotice
    : 'text' in stored
      ? `${stored.version} (notices/${event.purpose}/${stored.version}.${stored.locale}.md)`
      : stored.version;
  const url = `${deps.publicUrl}/unsubscribe/${signToken(deps.secret, {
    kind: 'unsubscribe',
    lead: lead.id,
    channel: event.channel,
    purpose: event.purpose,
    message: key,
  })}`;
  const what = whatOf(text, event.purpose, event.channel);
  const body = say(words.text, {
    what,
    channel: event.channel,
    purpose: event.purpose,
    action: event.action,
    done: words.actions[event.action],
    when: event.occurredAt.toISOString(),
    source: event.source,
    notice,
    url,
  });
  const [recorded] = await recordMessages(client, [
    {
      idempotencyKey: key,
      campaignId: 'consent',
      stepId: 'receipt',
      occurrence: `event-${event.id}`,
      leadId: lead.id,
      channel: 'email',
      purpose: RECEIPT_PURPOSE,
      persona: 'default',
      status: 'queued',
      toAddress: lead.email,
      subject: say(words.subject, { what }),
      bodyText: body,
      bodyHtml: textToHtml(body),
      headers: {},
      dueAt: now,
    },
  ]);
  return recorded?.id ?? null;
}
