import crypto from 'node:crypto';
import { sameSecret } from '../access/secrets.ts';
import type { Channel } from '../channels/channel.ts';

/**
 * Signed, self-contained link tokens: the payload is readable JSON, the signature an HMAC-SHA256
 * under the engine's secret over the payload and its kind. Verification is constant-time, a token
 * of one kind never passes as another, and tokens with an expiry stop working after it.
 */
export interface UnsubscribePayload {
  kind: 'unsubscribe';
  lead: number;
  channel: Channel;
  purpose: string;
  /** The message's idempotency key, so every message carries its own token. */
  message: string;
}

/** Double opt-in: confirms the grant event `grant`; expires at `exp` (epoch seconds). */
export interface ConfirmPayload {
  kind: 'confirm';
  lead: number;
  channel: Channel;
  purpose: string;
  grant: number;
  exp: number;
}

/** The satisfaction survey of one inbound contact (inbound/csat.ts); it does not expire. */
export interface CsatPayload {
  kind: 'csat';
  contact: number;
  /** The person asked, whose language the page speaks. */
  lead: number;
}

type Payload = UnsubscribePayload | ConfirmPayload | CsatPayload;

function sign(secret: string, body: string): string {
  return crypto.createHmac('sha256', secret).update(body).digest('base64url');
}

export function signToken(secret: string, payload: Payload): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${sign(secret, body)}`;
}

export function verifyToken<K extends Payload['kind']>(
  secret: string,
  token: string,
  kind: K,
  now: Date,
): Extract<Payload, { kind: K }> | undefined {
  const [body, signature, extra] = token.split('.');
  if (!body || !signature || extra !== undefined) return undefined;
  if (!sameSecret(signature, sign(secret, body))) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload;
    if (payload.kind !== kind) return undefined;
    if ('exp' in payload && payload.exp * 1000 <= now.getTime()) return undefined;
    return payload as Extract<Payload, { kind: K }>;
  } catch {
    return undefined;
  }
}
