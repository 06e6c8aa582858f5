import crypto from 'node:crypto';

/**
 * Where replies find their way back. Every email we send carries `Reply-To:
 * reply+<token>@<inbound domain>`, the token naming our message id with an HMAC over it, so a
 * reply names the message it answers and nobody can forge a token for someone else's message.
 * Lowercase hex keeps the token intact through mail systems that fold case in local parts.
 */
const MAC_HEX = 20;

function mac(secret: string, messageId: number): string {
  return crypto.createHmac('sha256', secret).update(`reply:${messageId}`).digest('hex').slice(0, MAC_HEX);
}

export function replyToken(secret: string, messageId: number): string {
  return `${messageId.toString(36)}-${mac(secret, messageId)}`;
}

export function replyAddress(secret: string, domain: string, messageId: number): string {
  return `reply+${replyToken(secret, messageId)}@${domain}`;
}

/** The message a reply address names, when its token is ours and intact. */
export function messageIdFromReplyAddress(secret: string, address: string): number | undefined {
  const match = /^reply\+([0-9a-z]{1,13})-([0-9a-f]+)@/i.exec(address.trim());
  if (!match) return undefined;
  const id = Number.parseInt(match[1]!.toLowerCase(), 36);
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  const expected = Buffer.from(mac(secret, id));
  const given = Buffer.from(match[2]!.toLowerCase());
  return expected.length === given.length && crypto.timingSafeEqual(expected, given) ? id : undefined;
}

/** The Message-ID we give message `id` (see channels/mime.ts). */
export function ourMessageId(id: number, domain: string): string {
  return `<message-${id}@${domain}>`;
}

/** Our message ids named in In-Reply-To, then References (nearest ancestor first). */
export function messageIdsFromHeaders(domain: string, inReplyTo?: string, references?: string | string[]): number[] {
  const ours = (value: string) =>
    [...value.matchAll(/<message-(\d+)@([^>\s]+)>/g)].filter((m) => m[2]!.toLowerCase() === domain.toLowerCase()).map((m) => Number(m[1]));
  const ancestors = [references ?? []].flat().flatMap(ours).reverse();
  return [...ours(inReplyTo ?? ''), ...ancestors];
}
