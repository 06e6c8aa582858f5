import path from 'node:path';
import { systemClock, type Clock } from '../../src/clock.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import type { Database } from '../../src/db/index.ts';
import { openDatabase } from '../../src/db/index.ts';
import { createEngine, type Engine } from '../../src/engine.ts';
import { deliverySummary, isSettled, type DeliverySummary } from '../../src/messages/report.ts';
import { freshDatabaseUrl, TEST_DATA_DIR } from './db.ts';

export const E2E_FIXTURE = path.resolve('test/fixtures/e2e');

export interface TestEngine {
  engine: Engine;
  database: Database;
  config: Config;
  env: Record<string, string>;
  close(): Promise<void>;
}

/** An engine on a fresh database, configured the way a process would be, from environment values. */
export async function testEngine(env: Record<string, string> = {}, clock: Clock = systemClock): Promise<TestEngine> {
  const fullEnv: Record<string, string> = {
    DATABASE_URL: await freshDatabaseUrl(),
    TOUCHPOINT_DATA_DIR: TEST_DATA_DIR,
    CAMPAIGNS_DIR: path.join(E2E_FIXTURE, 'campaigns'),
    TEMPLATES_DIR: path.join(E2E_FIXTURE, 'templates'),
    PUBLIC_URL: 'https://touchpoint.test',
    DISPATCH_POLL_MS: '50',
    DISPATCH_RETRY_BASE_MS: '50',
    LOG_LEVEL: 'error',
    ...env,
  };
  const config = loadConfig(fullEnv);
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 10 });
  const engine = await createEngine(config, database, clock);
  return {
    engine,
    database,
    config,
    env: fullEnv,
    async close() {
      await engine.stop();
      await database.close();
    },
  };
}

/** Polls until no message of the occurrence is queued or being sent. */
export async function settled(t: TestEngine, campaign: string, occurrence: string, timeoutMs = 20_000): Promise<DeliverySummary> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const summary = await deliverySummary(t.database.pool, campaign, occurrence, t.engine.clock.now());
    if (isSettled(summary)) return summary;
    if (Date.now() > deadline) throw new Error(`not settled: ${JSON.stringify(summary)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls `probe` until it returns a value. */
export async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
