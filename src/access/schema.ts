import { bigserial, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

export const ROLES = ['admin', 'marketer', 'service', 'compliance'] as const;
export type Role = (typeof ROLES)[number];

/** API keys; only a SHA-256 of the secret is stored, the key itself is shown once. */
export const apiKeys = pgTable('api_keys', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  name: text('name').notNull(),
  role: text('role', { enum: ROLES }).notNull(),
  prefix: text('prefix').notNull(),
  keyHash: text('key_hash').notNull().unique(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
  revokedAt: timestamp('revoked_at', { withTimezone: true }),
});
