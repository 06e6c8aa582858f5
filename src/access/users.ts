import crypto from 'node:crypto';
import type pg from 'pg';
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
}

export const MIN_PASSWORD = 10;
const USER_COLUMNS = 'id, email, name, role, languages, available';

const toUser = (row: User): User => ({ ...row, id: Number(row.id) });

/** Creates a user, or updates the one with this email (role, name, languages, password). */
export async function saveUser(
  pool: pg.Pool,
  input: { email: string; name?: string; role: Role; password: string; languages?: string[] },
): Promise<{ user: User; created: boolean }> {
  if (input.password.length < MIN_PASSWORD) throw new AppError('invalid_input', `a password needs at least ${MIN_PASSWORD} characters`);
  const email = input.email.trim().toLowerCase();
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw new AppError('invalid_input', `'${input.email}' is not an email address`);
  const { rows } = await pool.query<User & { created: boolean }>(
    `INSERT INTO users (email, name, role, password_hash, languages) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (email) DO UPDATE SET name = excluded.name, role = excluded.role, password_hash = excluded.password_hash,
            languages = excluded.languages, disabled_at = NULL
     RETURNING ${USER_COLUMNS}, (xmax = 0) AS created`,
    [email, input.name ?? email.split('@')[0], input.role, await hashPassword(input.password), input.languages ?? []],
  );
  const { created, ...user } = rows[0]!;
  return { user: toUser(user), created };
}

/** A dummy hash to verify against when the email is unknown, so timing does not tell who exists. */
let dummyHash: Promise<string> | undefined;

/** The user with this email and password, or undefined; unknown and wrong look the same. */
export async function authenticateUser(pool: pg.Pool, email: string, password: string): Promise<User | undefined> {
  const { rows } = await pool.query<User & { password_hash: string }>(
    `SELECT ${USER_COLUMNS}, password_hash FROM users WHERE email = $1 AND disabled_at IS NULL`,
    [email.trim().toLowerCase()],
  );
  const row = rows[0];
  dummyHash ??= hashPassword(crypto.randomBytes(16).toString('hex'));
  const ok = await verifyPassword(password, row?.password_hash ?? (await dummyHash));
  if (!row || !ok) return undefined;
  const { password_hash: _, ...user } = row;
  return toUser(user);
}

export async function listUsers(pool: pg.Pool, roles?: Role[]): Promise<User[]> {
  const { rows } = await pool.query<User>(
    `SELECT ${USER_COLUMNS} FROM users WHERE disabled_at IS NULL AND ($1::text[] IS NULL OR role = ANY($1)) ORDER BY email`,
    [roles ?? null],
  );
  return rows.map(toUser);
}

export async function setAvailable(pool: pg.Pool, userId: number, available: boolean): Promise<void> {
  await pool.query(`UPDATE users SET available = $2 WHERE id = $1`, [userId, available]);
}
