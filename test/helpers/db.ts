import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { migrateDatabase, openDatabase, type Database } from '../../src/db/index.ts';
import { scratchHome, startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.ts';

/**
 * One embedded PostgreSQL per test run; a template database migrated once, cloned per suite with
 * CREATE DATABASE … TEMPLATE (graphile-worker's approach), so every suite starts clean and fast.
 */
let server: EmbeddedPostgres | undefined;
let adminUrl: URL | undefined;
let counter = 0;
/**
 * Where test servers keep their data: var/test in the checkout, unless (as root) the `postgres`
 * user cannot reach the checkout, as in a clone under a private temporary directory.
 */
export const TEST_BASE = scratchHome(process.cwd(), 'var/test', 'touchpoint-test');
export const TEST_DATA_DIR = path.join(TEST_BASE, `run-${process.pid}`);

export async function startTestServer(): Promise<void> {
  fs.mkdirSync(TEST_BASE, { recursive: true, mode: 0o755 });
  server = await startEmbeddedPostgres(TEST_DATA_DIR, 'touchpoint_template');
  adminUrl = new URL(server.url);
  const pool = new pg.Pool({ connectionString: server.url, max: 1 });
  await migrateDatabase(pool);
  await pool.end();
}

export async function stopTestServer(): Promise<void> {
  await server?.stop();
  fs.rmSync(TEST_DATA_DIR, { recursive: true, force: true });
}

/** A URL for a fresh database cloned from the migrated template. */
export async function freshDatabaseUrl(): Promise<string> {
  if (!adminUrl) throw new Error('test server not started (root hooks missing?)');
  const name = `t_${process.pid}_${++counter}`;
  const admin = new URL(adminUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name} TEMPLATE touchpoint_template`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh, migrated database opened like the engine opens it. */
export async function freshDatabase(): Promise<Database> {
  return openDatabase({ databaseUrl: await freshDatabaseUrl(), dataDir: TEST_DATA_DIR, poolSize: 10 });
}
