import crypto from 'node:crypto';
import { statement, type Queryable } from '../db/statement.ts';
import type { User } from './users.ts';

/** A web UI session lasts this long from login; logging out ends it at once. */
export const SESSION_TTL_MS = 12 * 3_600_000;

export interface Session {
  user: User;
  csrfToken: string;
}

const hash = (token: string) => crypto.createHash('sha256').update(token).digest('hex');

const SWEEP = statement('access.sweep-sessions', `DELETE FROM sessions WHERE expires_at <= $1`);
const START = statement(
  'access.start-session',
  `INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
);
const FIND = statement(
  'access.find-session',
  `SELECT u.id, u.email, u.name, u.role, u.languages, u.available, u.notify, u.time_zone AS "timeZone", s.csrf_token
     FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL`,
);
const END = statement('access.end-session', `DELETE FROM sessions WHERE id_hash = $1`);

/** Starts a session; the returned token goes into the cookie and is never stored itself. */
export async function createSession(db: Queryable, userId: number, now: Date): Promise<{ token: string; csrfToken: string }> {
  const token = crypto.randomBytes(32).toString('base64url');
  const csrfToken = crypto.randomBytes(32).toString('base64url');
  // Expired sessions are swept here, at the rare moment someone logs in, rather than by a job.
  await db.query(SWEEP, [now]);
  await db.query(START, [hash(token), userId, csrfToken, now, new Date(now.getTime() + SESSION_TTL_MS)]);
  return { token, csrfToken };
}

/** The live session for a cookie token, or undefined (unknown, expired, or its user disabled). */
export async function findSession(db: Queryable, token: string, now: Date): Promise<Session | undefined> {
  const { rows } = await db.query<User & { csrf_token: string }>(FIND, [hash(token), now]);
  const row = rows[0];
  if (!row) return undefined;
  const { csrf_token: csrfToken, ...user } = row;
  return { user, csrfToken };
}

export async function endSession(db: Queryable, token: string): Promise<void> {
  await db.query(END, [hash(token)]);
}
