import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config.ts';
import type { Engine } from '../engine.ts';
import { log } from '../log.ts';

const SAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../samples');
const DEMO_USER = 'demo@touchpoint.local';

/** For `npm start` on a fresh clone: sample leads and consents, only into an empty database. */
export async function seedSamplesIfEmpty(engine: Engine, config: Config): Promise<void> {
  if (await engine.leads.any()) return;
  const leads = await engine.leads.import(path.join(SAMPLES, 'leads.csv'));
  const consents = await engine.consent.import(path.join(SAMPLES, 'consents.csv'));
  log.info('demo: loaded sample leads and consents', { leads: leads.imported, consent_events: consents.imported });
  // The sample inbound.yaml routes replies to this login; its password is made up now and shown once.
  const password = crypto.randomBytes(9).toString('base64url');
  await engine.access.saveUser({ email: DEMO_USER, name: 'Demo', role: 'admin', password, languages: [] });
  log.info(`demo: sign in at ${config.publicUrl}/login as ${DEMO_USER} with password ${password}`);
}
