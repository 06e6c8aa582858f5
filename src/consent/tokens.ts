import crypto from 'node:crypto';

/**
 * Signed, self-contained link tokens (unsubscribe today, confirmation later): the payload is
 * readable JSON, the signature an HMAC-SHA256 under the engine's secret. Verification is
 * constant-time and a token of one kind never passes as another.
 */
export interface UnsubscribePayload {
  kind: 'unsubscribe';
  lead: number;
  channel: 'email' | 'sms';
  purpose: string;
  /** The message's idempotency key, so every message carries its own token. */
  message: string;
}

function sign(secret: string, body: string): string {
  return crypto.createHmac('sha256', secret).update(body).digest('base64url');
}

export function signToken(secret: string, payload: UnsubscribePayload): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${sign(secret, body)}`;
}

export function verifyToken(secret: string, token: string): UnsubscribePayload | undefined {
  const [body, signature, extra] = token.split('.');
  if (!body || !signature || extra !== undefined) return undefined;
  const expected = Buffer.from(sign(secret, body));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !crypto.timingSafeEqual(expected, given)) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as UnsubscribePayload;
    return payload.kind === 'unsubscribe' ? payload : undefined;
  } catch {
    return undefined;
  }
}
