import crypto from 'node:crypto';
import type pg from 'pg';
import type { User } from './users.ts';

/** A web UI session lasts this long from login; logging out ends it at once. */
export const SESSION_TTL_MS = 12 * 3_600_000;

export interface Session {
  user: User;
  csrfToken: string;
}

const hash = (token: string) => crypto.createHash('sha256').update(token).digest('hex');

/** Starts a session; the returned token goes into the cookie and is never stored itself. */
export async function createSession(pool: pg.Pool, userId: number, now: Date): Promise<{ token: string; csrfToken: string }> {
  const token = crypto.randomBytes(32).toString('base64url');
  const csrfToken = crypto.randomBytes(32).toString('base64url');
  // Expired sessions are swept here, at the rare moment someone logs in, rather than by a job.
  await pool.query(`DELETE FROM sessions WHERE expires_at <= $1`, [now]);
  await pool.query(`INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`, [
    hash(token),
    userId,
    csrfToken,
    now,
    new Date(now.getTime() + SESSION_TTL_MS),
  ]);
  return { token, csrfToken };
}

/** The live session for a cookie token, or undefined (unknown, expired, or its user disabled). */
export async function findSession(pool: pg.Pool, token: string, now: Date): Promise<Session | undefined> {
  const { rows } = await pool.query<User & { csrf_token: string }>(
    `SELECT u.id, u.email, u.name, u.role, u.languages, u.available, s.csrf_token
       FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL`,
    [hash(token), now],
  );
  const row = rows[0];
  if (!row) return undefined;
  const { csrf_token: csrfToken, ...user } = row;
  return { user: { ...user, id: Number(user.id) }, csrfToken };
}

export async function endSession(pool: pg.Pool, token: string): Promise<void> {
  await pool.query(`DELETE FROM sessions WHERE id_hash = $1`, [hash(token)]);
}
