import crypto from 'node:crypto';
import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { statement, type Queryable } from './statement.ts';

/** Engine-wide values every process must agree on, such as the key that signs links. */
export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * The signing secret: TOUCHPOINT_SECRET when set, else one generated on first use and kept in the
 * database, so every process on the same database signs and verifies alike.
 */
const KEEP_SECRET = statement(
  'db.keep-signing-secret',
  `INSERT INTO settings (key, value) VALUES ('signing_secret', $1)
   ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key RETURNING value`,
);

const ANNOUNCE_URL = statement(
  'db.announce-public-url',
  `INSERT INTO settings (key, value) VALUES ('public_url', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
);
const ANNOUNCED_URL = statement('db.announced-public-url', `SELECT value FROM settings WHERE key = 'public_url'`);

/** Records the URL a starting server answers on, so links recorded by other processes point to it. */
export async function announcePublicUrl(db: Queryable, url: string): Promise<void> {
  await db.query(ANNOUNCE_URL, [url]);
}

/** The URL the last server to start announced, if any did. */
export async function announcedPublicUrl(db: Queryable): Promise<string | undefined> {
  const { rows } = await db.query<{ value: string }>(ANNOUNCED_URL);
  return rows[0]?.value;
}

export async function signingSecret(db: Queryable, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  const generated = crypto.randomBytes(32).toString('base64url');
  const { rows } = await db.query<{ value: string }>(KEEP_SECRET, [generated]);
  return rows[0]!.value;
}
