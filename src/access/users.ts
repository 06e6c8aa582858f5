import crypto from 'node:crypto';
import { statement, type Queryable } from '../db/statement.ts';
import { AppError } from '../errors.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import type { Role } from './schema.ts';

export interface User {
  id: number;
  email: string;
  name: string;
  role: Role;
  languages: string[];
  available: boolean;
  /** Whether they get an email when a contact is assigned or escalated to them. */
  notify: boolean;
  /** The zone the web UI shows their times in; null: the installation's UI_TIMEZONE. */
  timeZone: string | null;
}

export const MIN_PASSWORD = 10;
const USER_COLUMNS = 'id, email, name, role, languages, available, notify, time_zone AS "timeZone"';

// A new password ends every session the person had (whoever knew the old one is signed out), and
// saving a disabled person enables them again.
const SAVE = statement(
  'access.save-user',
  `WITH saved AS (
     INSERT INTO users (email, name, role, password_hash, languages) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (email) DO UPDATE SET name = excluded.name, role = excluded.role, password_hash = excluded.password_hash,
            languages = excluded.languages, disabled_at = NULL
     RETURNING ${USER_COLUMNS}, (xmax = 0) AS created
   ), signed_out AS (
     DELETE FROM sessions WHERE user_id IN (SELECT id FROM saved)
   )
   SELECT * FROM saved`,
);
const ACTIVE_BY_EMAIL = statement(
  'access.active-user-by-email',
  `SELECT ${USER_COLUMNS}, password_hash FROM users WHERE email = $1 AND disabled_at IS NULL`,
);
const LIST = statement(
  'access.list-users',
  `SELECT ${USER_COLUMNS}, disabled_at AS "disabledAt" FROM users
    WHERE ($2 OR disabled_at IS NULL) AND ($1::text[] IS NULL OR role = ANY($1)) ORDER BY email`,
);
const SET_AVAILABLE = statement('access.set-available', `UPDATE users SET available = $2 WHERE id = $1`);
const SET_NOTIFY = statement('access.set-notify', `UPDATE users SET notify = $2 WHERE email = $1 RETURNING id`);
const SET_TIME_ZONE = statement('access.set-time-zone', `UPDATE users SET time_zone = $2 WHERE id = $1`);

/** Logins are email addresses, compared trimmed and lowercase. */
export const loginOf = (email: string) => email.trim().toLowerCase();

/**
 * Creates a user, or updates the one with this email (role, name, languages, password); updating
 * signs them out everywhere and enables them if they were disabled.
 */
export async function saveUser(
  db: Queryable,
  input: { email: string; name?: string; role: Role; password: string; languages?: string[] },
): Promise<{ user: User; created: boolean }> {
  if (input.password.length < MIN_PASSWORD) throw new AppError('invalid_input', `a password needs at least ${MIN_PASSWORD} characters`);
  const email = loginOf(input.email);
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw new AppError('invalid_input', `'${input.email}' is not an email address`);
  const { rows } = await db.query<User & { created: boolean }>(SAVE, [
    email,
    input.name ?? email.split('@')[0],
    input.role,
    await hashPassword(input.password),
    input.languages ?? [],
  ]);
  const { created, ...user } = rows[0]!;
  return { user, created };
}

async function activeUserRow(db: Queryable, email: string): Promise<(User & { password_hash: string }) | undefined> {
  const { rows } = await db.query<User & { password_hash: string }>(ACTIVE_BY_EMAIL, [loginOf(email)]);
  return rows[0];
}

/** The user with this login who is not disabled (and holds one of `roles`, when given). */
export async function findActiveUser(db: Queryable, email: string, roles?: readonly Role[]): Promise<User | undefined> {
  const row = await activeUserRow(db, email);
  if (!row || (roles && !roles.includes(row.role))) return undefined;
  const { password_hash: _, ...user } = row;
  return user;
}

/** A dummy hash to verify against when the email is unknown, so timing does not tell who exists. */
let dummyHash: Promise<string> | undefined;

/** The user with this email and password, or undefined; unknown and wrong look the same. */
export async function authenticateUser(db: Queryable, email: string, password: string): Promise<User | undefined> {
  const row = await activeUserRow(db, email);
  dummyHash ??= hashPassword(crypto.randomBytes(16).toString('hex'));
  const ok = await verifyPassword(password, row?.password_hash ?? (await dummyHash));
  if (!row || !ok) return undefined;
  const { password_hash: _, ...user } = row;
  return user;
}

/** Users (with one of `roles`, when given); disabled ones only when asked for. */
export async function listUsers(db: Queryable, roles?: Role[], includeDisabled = false): Promise<(User & { disabledAt: Date | null })[]> {
  const { rows } = await db.query<User & { disabledAt: Date | null }>(LIST, [roles ?? null, includeDisabled]);
  return rows;
}

export async function setAvailable(db: Queryable, userId: number, available: boolean): Promise<void> {
  await db.query(SET_AVAILABLE, [userId, available]);
}

/** Turns a person's notification emails (contacts assigned or escalated to them) on or off. */
export async function setNotify(db: Queryable, email: string, notify: boolean): Promise<void> {
  const { rowCount } = await db.query(SET_NOTIFY, [loginOf(email), notify]);
  if (!rowCount) throw new AppError('not_found', `no user '${email}'`);
}

/** The zone the web UI shows this person's times in (an IANA zone, checked by the caller); null: UI_TIMEZONE. */
export async function setTimeZone(db: Queryable, userId: number, timeZone: string | null): Promise<void> {
  await db.query(SET_TIME_ZONE, [userId, timeZone]);
}
