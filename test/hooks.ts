import { setLogLevel } from '../src/log.ts';
import { startTestServer, stopTestServer } from './helpers/db.ts';

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(120_000);
    setLogLevel((process.env.TEST_LOG_LEVEL as 'warn' | undefined) ?? 'error');
    await startTestServer();
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopTestServer();
  },
};
