import crypto from 'node:crypto';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/index.ts';
import { apiKeys, type Role } from './schema.ts';

export interface ApiKeyOwner {
  id: number;
  name: string;
  role: Role;
}

function hashKey(key: string): string {
  return crypto.createHash('sha256').update(key).digest('hex');
}

/**
 * Creates a key and returns it in full; only its hash is stored, so this is the one time anyone
 * sees it. Keys carry 256 random bits, so a fast hash is enough (no brute force to slow down).
 */
export async function createApiKey(db: Db, role: Role, name: string): Promise<{ key: string; id: number }> {
  const prefix = crypto.randomBytes(4).toString('hex');
  const key = `tp_${prefix}_${crypto.randomBytes(32).toString('base64url')}`;
  const [row] = await db.insert(apiKeys).values({ name, role, prefix, keyHash: hashKey(key) }).returning({ id: apiKeys.id });
  return { key, id: row!.id };
}

/** The owner of a valid, unrevoked key, or undefined. */
export async function authenticateApiKey(db: Db, key: string): Promise<ApiKeyOwner | undefined> {
  const [row] = await db
    .update(apiKeys)
    .set({ lastUsedAt: sql`now()` })
    .where(and(eq(apiKeys.keyHash, hashKey(key)), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id, name: apiKeys.name, role: apiKeys.role });
  return row;
}
