import crypto from 'node:crypto';
import { sameSecret } from '../access/secrets.ts';

/**
 * Addresses that name one of our messages. Every email we send carries `Reply-To:
 * reply+<token>@<inbound domain>`, a `Message-ID: <message+<token>@<public host>>`, for
 * marketing a `mailto:unsubscribe+<token>@…` in List-Unsubscribe, and goes out with the return
 * path (SMTP MAIL FROM) `bounce+<token>@<inbound domain>`, where bounces come back (VERP). The
 * token is our message id with an HMAC over it and the address's kind, so a reply names the
 * message it answers and nobody can forge one for someone else's message, nor turn one kind of
 * token into another. Lowercase
 * hex survives mail systems that fold case in local parts; the whole token stays far below the
 * 64-character limit of a local part.
 */
export type AddressKind = 'reply' | 'unsubscribe' | 'message' | 'bounce';
const MAC_HEX = 20;

function mac(secret: string, kind: AddressKind, messageId: number): string {
  return crypto.createHmac('sha256', secret).update(`${kind}:${messageId}`).digest('hex').slice(0, MAC_HEX);
}

export function messageAddress(secret: string, kind: AddressKind, domain: string, messageId: number): string {
  return `${kind}+${messageId.toString(36)}-${mac(secret, kind, messageId)}@${domain}`;
}

export const replyAddress = (secret: string, domain: string, messageId: number) => messageAddress(secret, 'reply', domain, messageId);

/** The return path of message `messageId`: a bounce sent to it names the message (deliverability/bounce-mail.ts). */
export const bounceAddress = (secret: string, domain: string, messageId: number) => messageAddress(secret, 'bounce', domain, messageId);

/**
 * An email's headers with the addresses that name it: Reply-To, and a mailto beside the https
 * link in List-Unsubscribe (RFC 2369), for mail clients that unsubscribe by sending mail.
 */
export function withMessageAddresses(
  secret: string,
  domain: string,
  messageId: number,
  headers: Record<string, string>,
): Record<string, string> {
  const withReply = { ...headers, 'Reply-To': replyAddress(secret, domain, messageId) };
  const link = headers['List-Unsubscribe'];
  if (!link) return withReply;
  return {
    ...withReply,
    'List-Unsubscribe': `${link}, <mailto:${messageAddress(secret, 'unsubscribe', domain, messageId)}?subject=unsubscribe>`,
  };
}

/** The message an address of this kind names, when its token is ours and intact. */
export function messageIdFromAddress(secret: string, kind: AddressKind, address: string): number | undefined {
  const match = new RegExp(`^${kind}\\+([0-9a-z]{1,13})-([0-9a-f]+)@`, 'i').exec(address.trim());
  if (!match) return undefined;
  const id = Number.parseInt(match[1]!.toLowerCase(), 36);
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  return sameSecret(match[2]!.toLowerCase(), mac(secret, kind, id)) ? id : undefined;
}

/**
 * The Message-ID we give message `id` (see channels/mime.ts): signed like a reply token, so a
 * reply that quotes it in In-Reply-To/References names our message with authority, and nobody can
 * name someone else's message by counting.
 */
export function ourMessageId(secret: string, domain: string, id: number): string {
  return `<${messageAddress(secret, 'message', domain, id)}>`;
}

/** A message of ours named in In-Reply-To or References. */
export interface ReferencedMessage {
  id: number;
  /**
   * False for the sequential `<message-<id>@domain>` we used before Message-IDs were signed: anyone
   * can write one, so it names a message only as a hint (see receive.ts).
   */
  signed: boolean;
}

/** Our messages named in In-Reply-To, then References (nearest ancestor first). */
export function messagesFromHeaders(
  secret: string,
  domain: string,
  inReplyTo?: string,
  references?: string | string[],
): ReferencedMessage[] {
  const ours = (value: string): ReferencedMessage[] =>
    [...value.matchAll(/<([^<>\s]+)>/g)].flatMap(([, inner]): ReferencedMessage[] => {
      const signed = messageIdFromAddress(secret, 'message', inner!);
      if (signed !== undefined) return [{ id: signed, signed: true }];
      const legacy = /^message-(\d{1,15})@(.+)$/.exec(inner!);
      return legacy && legacy[2]!.toLowerCase() === domain.toLowerCase() ? [{ id: Number(legacy[1]), signed: false }] : [];
    });
  const ancestors = [references ?? []].flat().flatMap(ours).reverse();
  return [...ours(inReplyTo ?? ''), ...ancestors];
}
