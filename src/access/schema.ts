import { bigint, bigserial, boolean, index, integer, pgTable, text, timestamp, type AnyPgColumn } from 'drizzle-orm/pg-core';

export const ROLES = ['admin', 'marketer', 'service', 'compliance'] as const;
export type Role = (typeof ROLES)[number];

/** API keys; only a SHA-256 of the secret is stored, the key itself is shown once. */
export const apiKeys = pgTable('api_keys', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  name: text('name').notNull(),
  role: text('role', { enum: ROLES }).notNull(),
  prefix: text('prefix').notNull(),
  keyHash: text('key_hash').notNull().unique(),
  /** The person a key acts for; service keys always name one, so they reach only that person's queues. */
  userId: bigint('user_id', { mode: 'number' }).references((): AnyPgColumn => users.id),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
  revokedAt: timestamp('revoked_at', { withTimezone: true }),
});

/** People who log in to the web UI. Passwords are kept as scrypt hashes (see access/passwords.ts). */
export const users = pgTable('users', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  /** Login name, stored lowercase; also how inbound.yaml names queue members. */
  email: text('email').notNull().unique(),
  name: text('name').notNull(),
  role: text('role', { enum: ROLES }).notNull(),
  passwordHash: text('password_hash').notNull(),
  /** Languages the person answers in (primary subtags: en, de …); used to assign contacts. */
  languages: text('languages').array().notNull().default([]),
  /** Away people get no new contacts. */
  available: boolean('available').notNull().default(true),
  /** Whether they get an email when a contact is assigned or escalated to them (service-notification). */
  notify: boolean('notify').notNull().default(true),
  /** The IANA zone the web UI shows this person's times in; null: UI_TIMEZONE. */
  timeZone: text('time_zone'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  disabledAt: timestamp('disabled_at', { withTimezone: true }),
});

/** Web UI sessions; the cookie holds a random id of which only a SHA-256 is stored. */
export const sessions = pgTable('sessions', {
  idHash: text('id_hash').primaryKey(),
  userId: bigint('user_id', { mode: 'number' })
    .notNull()
    .references(() => users.id),
  /** Synchronizer token every form of this session must post back. */
  csrfToken: text('csrf_token').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
});

/**
 * Sign-in throttle (access/sign-in.ts): one counter per key, shared by every process. Keys are
 * keyed hashes of an account, a client address or both, never the email or address itself.
 */
export const signInThrottle = pgTable(
  'sign_in_throttle',
  {
    /** `<kind>:<keyed hash>`, kind being account, address, pair or known. */
    key: text('key').primaryKey(),
    /** Failed (or still running) attempts counted in this key's window. */
    attempts: integer('attempts').notNull(),
    /** When the window ends and the row may be pruned. */
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [index('sign_in_throttle_expires_idx').on(t.expiresAt)],
);
