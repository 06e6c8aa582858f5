import crypto from 'node:crypto';
import net from 'node:net';
import type pg from 'pg';
import { LOCKS, lockForTransaction } from '../db/locks.ts';
import { statement } from '../db/statement.ts';
import { withTransaction } from '../db/tx.ts';
import { takingTurns } from './turns.ts';
import { authenticateUser, loginOf, type User } from './users.ts';

/**
 * Sign-in throttling, kept in PostgreSQL so every process shares it. Failed attempts are counted
 * per key over a fixed window:
 * - per account and client address: someone mistyping, or one attacker guessing one account;
 * - per client address, over all accounts: one attacker trying many accounts;
 * - per account, over all addresses (looser): many addresses guessing one account. An address the
 *   account signed in from recently is exempt, so an attack spread over many addresses cannot
 *   lock the person out where they usually sign in.
 * One attacker (one address) meets the address limit long before the account limit, so they lock
 * out nobody but themselves. An attempt is counted before its password is checked, so parallel
 * attempts cannot slip past a limit together, and attempts over a limit are refused without any
 * scrypt work; a success takes its count back and clears its account+address counter.
 */

/** Failed attempts allowed per window, from config (SIGN_IN_MAX_FAILURES…). */
export interface SignInLimits {
  perAccountAndAddress: number;
  perAddress: number;
  /** Above `perAddress`, so that one address cannot reach it (config checks this). */
  perAccount: number;
}

/**
 * Password checks (scrypt, on libuv's four-thread pool) running at once in this process, taken in
 * turns by client address: a burst from one address neither takes every core nor makes a person
 * at another address wait behind all of it.
 */
const verifyInTurn = takingTurns(2);

/** How long failures count: a key's window starts with its first counted attempt. */
export const SIGN_IN_WINDOW_MS = 15 * 60_000;
/** How long a successful sign-in exempts its address from the per-account limit. */
const KNOWN_ADDRESS_MS = 30 * 86_400_000;

export type SignInResult =
  | { outcome: 'signed-in'; user: User; account: string }
  | { outcome: 'refused'; account: string }
  | { outcome: 'throttled'; retryAfterMs: number; account: string };

export interface SignInAttempt {
  email: string;
  password: string;
  /** The client's address as the HTTP layer determined it (behind trusted proxies only). */
  address: string | undefined;
}

// Expired rows go at every attempt (an index on expires_at keeps that cheap), and only attempts
// under every limit write: so the table holds at most what the password checks this window let
// through, however long an attack runs.
const PRUNE = statement('access.sign-in-prune', `DELETE FROM sign_in_throttle WHERE expires_at <= $1`);
const COUNTS = statement(
  'access.sign-in-counts',
  `SELECT key, attempts, expires_at AS "expiresAt" FROM sign_in_throttle WHERE key = ANY($1::text[]) AND expires_at > $2`,
);
const COUNT_ATTEMPT = statement(
  'access.sign-in-count-attempt',
  `INSERT INTO sign_in_throttle (key, attempts, expires_at) SELECT k, 1, $2 FROM unnest($1::text[]) AS k
   ON CONFLICT (key) DO UPDATE SET attempts = sign_in_throttle.attempts + 1`,
);
const SUCCEEDED = statement(
  'access.sign-in-succeeded',
  `WITH forgiven AS (DELETE FROM sign_in_throttle WHERE key = $1),
        uncounted AS (UPDATE sign_in_throttle SET attempts = attempts - 1 WHERE key = ANY($2::text[]) AND attempts > 0)
   INSERT INTO sign_in_throttle (key, attempts, expires_at) VALUES ($3, 0, $4)
   ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at`,
);

/**
 * The address a throttle counts by: IPv4 as it is, IPv6 by its /64, the network one subscriber
 * gets (counting single IPv6 addresses would give an attacker 2^64 fresh ones).
 */
export function throttledAddress(ip: string | undefined): string {
  const address = ip?.replace(/%.*$/, '');
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return mapped;
  if (!net.isIPv6(address)) return address;
  const groups = (part: string) => (part ? part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : []);
  const [head = '', tail] = address.split('::');
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const full = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${full
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/** Throttle keys: keyed hashes, so the table names no email and no address. */
function throttleKeys(secret: string, email: string, ip: string | undefined) {
  const mac = (kind: string, value: string) =>
    `${kind}:${crypto.createHmac('sha256', secret).update(`sign-in\n${kind}\n${value}`).digest('hex').slice(0, 32)}`;
  const account = loginOf(email);
  const address = throttledAddress(ip);
  return {
    account: mac('account', account),
    address: mac('address', address),
    pair: mac('pair', `${account}\n${address}`),
    known: mac('known', `${account}\n${address}`),
  };
}

type Keys = ReturnType<typeof throttleKeys>;

/** Counts the attempt if it is under every limit; else how long until it would be. */
async function countAttempt(pool: pg.Pool, limits: SignInLimits, keys: Keys, now: Date): Promise<number | undefined> {
  return withTransaction(pool, async (client) => {
    await lockForTransaction(client, LOCKS.signInAddress, keys.address);
    await lockForTransaction(client, LOCKS.signInAccount, keys.account);
    await client.query(PRUNE, [now]);
    const { rows } = await client.query<{ key: string; attempts: number; expiresAt: Date }>(COUNTS, [
      [keys.pair, keys.address, keys.account, keys.known],
      now,
    ]);
    const row = (key: string) => rows.find((r) => r.key === key);
    const checks: [string, number][] = [
      [keys.pair, limits.perAccountAndAddress],
      [keys.address, limits.perAddress],
      ...(row(keys.known) ? [] : [[keys.account, limits.perAccount] as [string, number]]),
    ];
    const over = checks.flatMap(([key, limit]) => {
      const r = row(key);
      return r && r.attempts >= limit ? [r.expiresAt.getTime() - now.getTime()] : [];
    });
    if (over.length > 0) return Math.max(...over);
    await client.query(COUNT_ATTEMPT, [[keys.pair, keys.address, keys.account], new Date(now.getTime() + SIGN_IN_WINDOW_MS)]);
    return undefined;
  });
}

/**
 * Checks an email and password under the throttle. `account` names the account in logs by a
 * keyed hash, never by the email (which may be anyone's, typed by anyone).
 */
export async function signIn(
  pool: pg.Pool,
  policy: { secret: string; limits: SignInLimits },
  attempt: SignInAttempt,
  now: Date,
): Promise<SignInResult> {
  const keys = throttleKeys(policy.secret, attempt.email, attempt.address);
  const account = keys.account.slice('account:'.length, 'account:'.length + 12);
  const retryAfterMs = await countAttempt(pool, policy.limits, keys, now);
  if (retryAfterMs !== undefined) return { outcome: 'throttled', retryAfterMs, account };
  const user = await verifyInTurn(keys.address, () => authenticateUser(pool, attempt.email, attempt.password));
  if (!user) return { outcome: 'refused', account };
  await pool.query(SUCCEEDED, [keys.pair, [keys.address, keys.account], keys.known, new Date(now.getTime() + KNOWN_ADDRESS_MS)]);
  return { outcome: 'signed-in', user, account };
}
