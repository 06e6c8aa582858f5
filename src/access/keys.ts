import crypto from 'node:crypto';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/index.ts';
import { AppError } from '../errors.ts';
import { apiKeys, users, type Role } from './schema.ts';

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

/**
 * Creates a key and returns it in full; only its hash is stored, so this is the one time anyone
 * sees it. Keys carry 256 random bits, so a fast hash is enough (no brute force to slow down).
 */
export async function createApiKey(db: Db, role: Role, name: string, userEmail?: string): Promise<{ key: string; id: number }> {
  let userId: number | undefined;
  if (userEmail) {
    const [user] = await db.select({ id: users.id }).from(users).where(and(eq(users.email, userEmail.trim().toLowerCase()), isNull(users.disabledAt)));
    if (!user) throw new AppError('not_found', `no user '${userEmail}'; create it with: touchpoint users add ${userEmail} --role ${role}`);
    userId = user.id;
  } else if (role === 'service') {
    throw new AppError('invalid_input', 'a service key acts for one person and reaches only their queues: name them with --user <email>');
  }
  const prefix = crypto.randomBytes(4).toString('hex');
  const key = `tp_${prefix}_${crypto.randomBytes(32).toString('base64url')}`;
  const [row] = await db.insert(apiKeys).values({ name, role, prefix, keyHash: hashKey(key), userId }).returning({ id: apiKeys.id });
  return { key, id: row!.id };
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
export async function authenticateApiKey(db: Db, key: string): Promise<ApiKeyOwner | undefined> {
  const hash = hashKey(key);
  const cached = verified.get(hash);
  if (cached && cached.until > Date.now()) return cached.owner;
  const owner = await lookUpKey(db, hash);
  if (owner) verified.set(hash, { owner, until: Date.now() + KEY_CACHE_MS });
  else verified.delete(hash);
  return owner;
}

async function lookUpKey(db: Db, hash: string): Promise<ApiKeyOwner | undefined> {
  const [row] = await db
    .select({ id: apiKeys.id, name: apiKeys.name, role: apiKeys.role, lastUsedAt: apiKeys.lastUsedAt, userId: users.id, userEmail: users.email })
    .from(apiKeys)
    .leftJoin(users, and(eq(users.id, apiKeys.userId), isNull(users.disabledAt)))
    .where(and(eq(apiKeys.keyHash, hash), isNull(apiKeys.revokedAt)));
  if (!row) return undefined;
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > 60_000) {
    await db.update(apiKeys).set({ lastUsedAt: sql`now()` }).where(eq(apiKeys.id, row.id));
  }
  // A key whose person was disabled stops working with them.
  if (row.role === 'service' && !row.userId) return undefined;
  return { id: row.id, name: row.name, role: row.role, ...(row.userId ? { user: { id: row.userId, email: row.userEmail! } } : {}) };
}
