import { statement, type Queryable } from '../db/statement.ts';
import { AppError } from '../errors.ts';
import { forgetVerifiedKeys } from './keys.ts';
import { loginOf } from './users.ts';

/**
 * Disabling keeps the person's record (their name stays on the contacts and history they worked)
 * but ends their sessions, refuses their password and stops every API key that acts for them.
 * Enabling lets them sign in again with the password they had; their keys work again unless revoked.
 */
const DISABLE = statement(
  'access.disable-user',
  `WITH target AS (SELECT id, disabled_at FROM users WHERE email = $1 FOR UPDATE),
        disabled AS (UPDATE users u SET disabled_at = coalesce(target.disabled_at, $2) FROM target WHERE u.id = target.id),
        signed_out AS (DELETE FROM sessions s USING target WHERE s.user_id = target.id RETURNING 1)
   SELECT target.id, coalesce(target.disabled_at, $2) AS "disabledAt", target.disabled_at IS NOT NULL AS already,
          (SELECT count(*) FROM signed_out) AS sessions,
          (SELECT count(*) FROM api_keys k WHERE k.user_id = target.id AND k.revoked_at IS NULL) AS keys
     FROM target`,
);
const ENABLE = statement(
  'access.enable-user',
  `WITH target AS (SELECT id, disabled_at FROM users WHERE email = $1 FOR UPDATE),
        enabled AS (UPDATE users u SET disabled_at = NULL FROM target WHERE u.id = target.id)
   SELECT target.id, target.disabled_at IS NULL AS already FROM target`,
);

export interface Disabled {
  disabledAt: Date;
  /** Whether they were disabled before (then nothing changed). */
  already: boolean;
  /** Sessions ended now. */
  sessions: number;
  /** Unrevoked API keys acting for them, which stop working with them. */
  keys: number;
}

/** Disables the person with this login; see above for what that stops. */
export async function disableUser(db: Queryable, email: string, now: Date): Promise<Disabled> {
  const { rows } = await db.query<Disabled & { id: number }>(DISABLE, [loginOf(email), now]);
  const row = rows[0];
  if (!row) throw new AppError('not_found', `no user '${email}'; touchpoint users list shows them`);
  // Other processes notice within the key cache's lifetime; this one at once.
  forgetVerifiedKeys((owner) => owner.user?.id === row.id);
  const { id: _, ...disabled } = row;
  return disabled;
}

/** Enables the person with this login again; whether they already were. */
export async function enableUser(db: Queryable, email: string): Promise<{ already: boolean }> {
  const { rows } = await db.query<{ id: number; already: boolean }>(ENABLE, [loginOf(email)]);
  if (!rows[0]) throw new AppError('not_found', `no user '${email}'; touchpoint users list shows them`);
  return { already: rows[0].already };
}
