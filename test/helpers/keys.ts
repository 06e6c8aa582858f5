import { createApiKey } from '../../src/access/keys.ts';
import type { Role } from '../../src/access/schema.ts';
import { saveUser } from '../../src/access/users.ts';
import type { Database } from '../../src/db/index.ts';

/** An API key for a role; a service key acts for `user` (made up when not given). */
export async function apiKeyFor(database: Database, role: Role, user?: string): Promise<string> {
  let email = user;
  if (role === 'service' && !email) {
    email = 'service-key@example.com';
    await saveUser(database.pool, { email, role, password: 'correct horse battery' });
  }
  return (await createApiKey(database.pool, role, role, email)).key;
}
