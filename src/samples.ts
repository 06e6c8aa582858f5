import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliContext } from './cli/command.ts';
import crypto from 'node:crypto';
import { saveUser } from './access/users.ts';
import { importConsents } from './consent/import.ts';
import { importLeads } from './leads/import.ts';
import { log } from './log.ts';

const SAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../samples');

/** For `npm start` on a fresh clone: sample leads and consents, only into an empty database. */
export async function seedSamplesIfEmpty(ctx: CliContext): Promise<void> {
  const database = await ctx.database();
  const { rows } = await database.pool.query<{ any: boolean }>('SELECT EXISTS (SELECT 1 FROM leads) AS any');
  if (rows[0]!.any) return;
  const leads = await importLeads(database, path.join(SAMPLES, 'leads.csv'), { phoneRegion: ctx.config.phoneRegion });
  const consents = await importConsents(database, path.join(SAMPLES, 'consents.csv'));
  log.info('demo: loaded sample leads and consents', { leads: leads.imported, consent_events: consents.imported });
  // The sample inbound.yaml routes replies to this login; its password is made up now and shown once.
  const password = crypto.randomBytes(9).toString('base64url');
  await saveUser(database.pool, { email: DEMO_USER, name: 'Demo', role: 'admin', password, languages: [] });
  log.info(`demo: sign in at ${ctx.config.publicUrl}/login as ${DEMO_USER} with password ${password}`);
}

const DEMO_USER = 'demo@touchpoint.local';
