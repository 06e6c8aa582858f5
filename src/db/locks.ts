import type pg from 'pg';
import { statement, type Queryable } from './statement.ts';

/**
 * Every PostgreSQL advisory lock the engine takes, in one registry so no two uses ever share an
 * id. A lock with a key is a namespace: (id, key) pairs are locked, the key being a number or a
 * string hashed by PostgreSQL's hashtext().
 */
export const LOCKS = {
  /** Held while migrations run, so concurrent starts never race. */
  migration: 7_245_001,
  /** Held by every live dispatcher for its whole life, keyed by its worker id. */
  dispatcher: 7_245_002,
  /** Serialises writers of one consent key, keyed by `lead/channel/purpose`. */
  consentKey: 7_245_003,
  /** Serialises assignment within one queue, keyed by the queue id. */
  assignQueue: 7_245_004,
  /** Extends the consent hash chain; migration 0008's insert trigger takes it by this number too. */
  consentChain: 7_245_005,
  /** Keeps two campaigns from both taking a lead's last slot under a frequency cap, keyed by lead id. */
  frequencyCap: 7_245_006,
  /** Serialise the sign-in attempts from one client address, and to one account (taken in this order). */
  signInAddress: 7_245_007,
  signInAccount: 7_245_008,
  /** Held while Agenda's own code makes its tables, so processes starting together never race. */
  schedulerTables: 7_245_009,
  /** Serialises the replies of one person (`lead:<id>`, else `from:<address>`), so two arriving together make one conversation. */
  conversation: 7_245_010,
} as const;

export type LockId = (typeof LOCKS)[keyof typeof LOCKS];

const XACT = statement('db.lock-transaction', 'SELECT pg_advisory_xact_lock($1::bigint)');
const XACT_KEY = statement('db.lock-transaction-key', 'SELECT pg_advisory_xact_lock($1::int, $2::int)');
const XACT_NAME = statement('db.lock-transaction-name', 'SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))');
const SESSION = statement('db.lock-session', 'SELECT pg_advisory_lock($1::bigint)');
const SESSION_KEY = statement('db.lock-session-key', 'SELECT pg_advisory_lock($1::int, $2::int)');
const TRY_SESSION_KEY = statement('db.lock-try-session-key', 'SELECT pg_try_advisory_lock($1::int, $2::int) AS ok');
const UNLOCK = statement('db.lock-unlock', 'SELECT pg_advisory_unlock($1::bigint)');
const UNLOCK_KEY = statement('db.lock-unlock-key', 'SELECT pg_advisory_unlock($1::int, $2::int)');
const HELD = statement('db.lock-held', `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::int AND granted LIMIT 1`);

/** Holds `lock` (for `key`, when given) until the caller's transaction ends. */
export async function lockForTransaction(client: pg.PoolClient, lock: LockId, key?: number | string): Promise<void> {
  if (key === undefined) await client.query(XACT, [lock]);
  else await client.query(typeof key === 'number' ? XACT_KEY : XACT_NAME, [lock, key]);
}

/** Holds `lock` (for `key`, when given) until it is released or the connection ends. */
export async function lockForSession(client: Queryable, lock: LockId, key?: number): Promise<void> {
  await client.query(key === undefined ? SESSION : SESSION_KEY, key === undefined ? [lock] : [lock, key]);
}

/** Takes a session lock if nobody holds it; whether it did. */
export async function tryLockForSession(client: Queryable, lock: LockId, key: number): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(TRY_SESSION_KEY, [lock, key]);
  return rows[0]!.ok;
}

export async function unlockSession(client: Queryable, lock: LockId, key?: number): Promise<void> {
  await client.query(key === undefined ? UNLOCK : UNLOCK_KEY, key === undefined ? [lock] : [lock, key]);
}

/** Runs `fn` on a connection of its own that holds `lock` meanwhile: processes take turns. */
export async function whileLocked<T>(pool: pg.Pool, lock: LockId, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await lockForSession(client, lock);
    try {
      return await fn(client);
    } finally {
      await unlockSession(client, lock);
    }
  } finally {
    client.release();
  }
}

/** Whether any session holds a lock of this namespace (for example: is any dispatcher alive). */
export async function lockHeld(client: Queryable, lock: LockId): Promise<boolean> {
  const { rowCount } = await client.query(HELD, [lock]);
  return (rowCount ?? 0) > 0;
}
