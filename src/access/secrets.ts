import crypto from 'node:crypto';

/**
 * Whether a presented secret (token, signature, CSRF value) equals the expected one, in time that
 * tells nothing about where they differ or how long the expected one is: both are hashed first.
 * A missing or empty value never matches.
 */
export function sameSecret(given: string | undefined, expected: string | undefined): boolean {
  if (!given || !expected) return false;
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}
