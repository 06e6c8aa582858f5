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

/** A key as `keys list` shows it; the secret itself is never stored. */
export interface ApiKeyRecord {
  id: number;
  name: string;
  role: Role;
  /** Email of the person the key acts for. */
  user: string | null;
  /** The key's visible start, `tp_<prefix>_…`. */
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
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
  `SELECT k.id, k.name, k.role, k.last_used_at, k.user_id AS acts_for, u.id AS user_id, u.email AS user_email
     FROM api_keys k LEFT JOIN users u ON u.id = k.user_id AND u.disabled_at IS NULL
    WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
);
const TOUCH = statement('access.touch-key', `UPDATE api_keys SET last_used_at = now() WHERE id = $1`);
const LIST = statement(
  'access.list-keys',
  `SELECT k.id, k.name, k.role, u.email AS "user", k.prefix, k.created_at AS "createdAt", k.last_used_at AS "lastUsedAt",
          k.revoked_at AS "revokedAt"
     FROM api_keys k LEFT JOIN users u ON u.id = k.user_id
    ORDER BY k.id`,
);
const FIND_FOR_REVOKE = statement(
  'access.find-key-to-revoke',
  `SELECT id, prefix, revoked_at AS "revokedAt" FROM api_keys WHERE id = $1 OR prefix = $2 ORDER BY id`,
);
const REVOKE = statement(
  'access.revoke-key',
  `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 RETURNING revoked_at AS "revokedAt"`,
);

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
 * does not add a query to every request: a key revoked (or whose person is disabled) by another
 * process stops working here within this time; in this process at once.
 */
export const KEY_CACHE_MS = 10_000;
const verified = new Map<string, { owner: ApiKeyOwner; until: number }>();

/** Drops the cached keys that `matches`, so a revocation in this process takes effect at once. */
export function forgetVerifiedKeys(matches: (owner: ApiKeyOwner) => boolean): void {
  for (const [hash, entry] of verified) if (matches(entry.owner)) verified.delete(hash);
}

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
    acts_for: number | null;
    user_id: number | null;
    user_email: string | null;
  }>(LOOK_UP, [hash]);
  const row = rows[0];
  if (!row) return undefined;
  if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) await db.query(TOUCH, [row.id]);
  // A key that acts for a person stops working while they are disabled, whatever its role.
  if (row.acts_for !== null && row.user_id === null) return undefined;
  return { id: row.id, name: row.name, role: row.role, ...(row.user_id ? { user: { id: row.user_id, email: row.user_email! } } : {}) };
}

/** Every key ever created, revoked ones included, oldest first. */
export async function listApiKeys(db: Queryable): Promise<ApiKeyRecord[]> {
  const { rows } = await db.query<ApiKeyRecord>(LIST);
  return rows;
}

/**
 * Revokes the key named by its id, its prefix (as `keys list` shows it) or the key itself; a
 * revoked key never works again. Answers when it was revoked (earlier, if it already was).
 */
export async function revokeApiKey(db: Queryable, ref: string, now: Date): Promise<{ id: number; revokedAt: Date; already: boolean }> {
  const id = /^\d{1,15}$/.test(ref) ? Number(ref) : null;
  const prefix = /^(?:tp_)?([0-9a-f]{8})(?:_\S*)?$/.exec(ref)?.[1] ?? null;
  if (id === null && prefix === null)
    throw new AppError('invalid_input', `'${ref}' is neither a key id nor a key prefix (tp_<8 hex digits>)`);
  const { rows } = await db.query<{ id: number; prefix: string; revokedAt: Date | null }>(FIND_FOR_REVOKE, [id, prefix]);
  if (rows.length === 0) throw new AppError('not_found', `no API key '${ref}'; touchpoint keys list shows them`);
  if (rows.length > 1)
    throw new AppError(
      'conflict',
      `'${ref}' matches more than one key (${rows.map((r) => `id ${r.id}, tp_${r.prefix}`).join('; ')}): give its id, or its prefix as tp_<prefix>`,
    );
  const key = rows[0]!;
  const { rows: revoked } = await db.query<{ revokedAt: Date }>(REVOKE, [key.id, now]);
  forgetVerifiedKeys((owner) => owner.id === key.id);
  return { id: key.id, revokedAt: revoked[0]!.revokedAt, already: key.revokedAt !== null };
}
