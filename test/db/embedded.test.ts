import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { AppError } from '../../src/errors.ts';
import { TEST_BASE } from '../helpers/db.ts';

const run = promisify(execFile);
const DIR = path.join(TEST_BASE, `shared-${process.pid}`);

function cli(args: string[]) {
  return run(process.execPath, ['bin/touchpoint.js', ...args], {
    env: { ...process.env, TOUCHPOINT_DATA_DIR: DIR, DATABASE_URL: '', LOG_LEVEL: 'error' },
  });
}

function postmasterRunning(): boolean {
  return fs.existsSync(path.join(DIR, 'postgres', 'postmaster.pid'));
}

describe('the embedded PostgreSQL', function () {
  this.timeout(90_000);
  after(() => fs.rmSync(DIR, { recursive: true, force: true }));

  it('is started by the first process, joined by the next, and stopped by the last one out', async () => {
    const server = await startEmbeddedPostgres(DIR);
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      // A CLI command joins the running server and leaves it running for us.
      const { stdout } = await cli(['keys', 'create', '--role', 'admin']);
      expect(stdout).to.match(/^tp_[0-9a-f]{8}_/);
      expect(postmasterRunning()).to.equal(true);
      const { rows } = await client.query('SELECT count(*)::int AS n FROM api_keys');
      expect(rows[0].n).to.equal(1);
    } finally {
      await client.end();
    }
    expect(await server.stopIfUnused()).to.equal('stopped');
    expect(postmasterRunning()).to.equal(false);

    // Alone, a command starts the server, uses it, and stops it again.
    await cli(['keys', 'create', '--role', 'marketer']);
    expect(postmasterRunning()).to.equal(false);
  });

  it('explains a data directory the postgres user cannot reach', async function () {
    if (process.getuid?.() !== 0) this.skip();
    const closed = path.join(TEST_BASE, `closed-${process.pid}`);
    fs.mkdirSync(closed, { recursive: true, mode: 0o700 });
    fs.chmodSync(closed, 0o700);
    try {
      const err = await startEmbeddedPostgres(path.join(closed, 'data')).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(AppError);
      expect((err as Error).message).to.contain(`cannot enter ${closed}`);
    } finally {
      fs.rmSync(closed, { recursive: true, force: true });
    }
  });
});
