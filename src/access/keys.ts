import crypto from 'node:crypto';
import { statement, type Queryable } from '../db/statement.ts';
import { AppError } from '../errors.ts';
import type { Role } from './schema.ts';
import { findActiveUser } from './users.ts';

export interface ApiKeyOwner {
  id: number;
  name: string;
  role: Role;
  /** The person the key acts for, when it names one (always for service keys). */
  user?: { id: number; email: string };
}

function hashKey(key: string): string {
  return crypto.createHash('sha256').update(key).digest('hex');
}

const CREATE = statement(
  'access.create-key',
  `INSERT INTO api_keys (name, role, prefix, key_hash, user_id) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
);
const LOOK_UP = statement(
  'access.key-by-hash',
  `SELECT k.id, k.name, k.role, k.last_used_at, u.id AS user_id, u.email AS user_email
     FROM api_keys k LEFT JOIN users u ON u.id = k.user_id AND u.disabled_at IS NULL
    WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
);
const TOUCH = statement('access.touch-key', `UPDATE api_keys SET last_used_at = now() WHERE id = $1`);

/**
 * Creates a key and returns it in full; only its hash is stored, so this is the one time anyone
 * sees it. Keys carry 256 random bits, so a fast hash is enough (no brute force to slow down).
 */
export async function createApiKey(db: Queryable, role: Role, name: string, userEmail?: string): Promise<{ key: string; id: number }> {
  let userId: number | undefined;
  if (userEmail) {
    const user = await findActiveUser(db, userEmail);
    if (!user) throw new AppError('not_found', `no user '${userEmail}'; create it with: touchpoint users add ${userEmail} --role ${role}`);
    userId = user.id;
  } else if (role === 'service') {
    throw new AppError('invalid_input', 'a service key acts for one person and reaches only their queues: name them with --user <email>');
  }
  const prefix = crypto.randomBytes(4).toString('hex');
  const key = `tp_${prefix}_${crypto.randomBytes(32).toString('base64url')}`;
  const { rows } = await db.query<{ id: number }>(CREATE, [name, role, prefix, hashKey(key), userId ?? null]);
  return { key, id: rows[0]!.id };
}

/**
 * Keys found valid are trusted for this long without asking the database again, so a busy client
 * does not add a query to every request; a revoked key stops working within this time.
 */
const KEY_CACHE_MS = 10_000;
const verified = new Map<string, { owner: ApiKeyOwner; until: number }>();

/**
 * The owner of a valid, unrevoked key, or undefined. `last_used_at` is refreshed at most once a
 * minute.
 */
export async function authenticateApiKey(db: Queryable, key: string): Promise<ApiKeyOwner | undefined> {
  const hash = hashKey(key);
  const cached = verified.get(hash);
  if (cached && cached.until > Date.now()) return cached.owner;
  const owner = await lookUpKey(db, hash);
  if (owner) verified.set(hash, { owner, until: Date.now() + KEY_CACHE_MS });
  else verified.delete(hash);
  return owner;
}

async function lookUpKey(db: Queryable, hash: string): Promise<ApiKeyOwner | undefined> {
  const { rows } = await db.query<{
    id: number;
    name: string;
    role: Role;
    last_used_at: Date | null;
    user_id: number | null;
    user_email: string | null;
  }>(LOOK_UP, [hash]);
  const row = rows[0];
  if (!row) return undefined;
  if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) await db.query(TOUCH, [row.id]);
  // A key whose person was disabled stops working with them.
  if (row.role === 'service' && !row.user_id) return undefined;
  return { id: row.id, name: row.name, role: row.role, ...(row.user_id ? { user: { id: row.user_id, email: row.user_email! } } : {}) };
}
