import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { AppError } from '../errors.ts';
import { log } from '../log.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded.ts';
import { LOCKS, lockForSession, unlockSession } from './locks.ts';
import { statement, type Queryable } from './statement.ts';

/** One pool per process, shared by our queries and Agenda. */
export interface Database {
  pool: pg.Pool;
  url: string;
  /** Closes the pool, then the embedded server if this process was the last one using it. */
  close(): Promise<void>;
}

const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

// bigint ids and counts come back as numbers, so row types say `number` and nobody converts.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export async function openDatabase(options: { databaseUrl?: string; dataDir: string; poolSize?: number }): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  let url = options.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedPostgres(options.dataDir);
    url = embedded.url;
  }
  const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 20, application_name: 'touchpoint' });
  // An idle client losing its server (e.g. PostgreSQL shutting down) must not crash the process.
  pool.on('error', () => {});
  try {
    await migrateDatabase(pool);
  } catch (cause) {
    await pool.end();
    throw cause instanceof AppError
      ? cause
      : new AppError('database', `cannot prepare the database: ${(cause as Error).message}`, { cause });
  }
  return {
    pool,
    url,
    async close() {
      log.debug('closing the database pool', { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount });
      await pool.end();
      if (embedded) log.debug(`embedded PostgreSQL: ${await embedded.stopIfUnused()}`);
    },
  };
}

const PING = statement('db.ping', 'SELECT 1');

/** Resolves when the database answers a query. */
export async function ping(db: Queryable): Promise<void> {
  await db.query(PING);
}

/** Applies committed migrations; an advisory lock keeps concurrent starts from racing. */
export async function migrateDatabase(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await lockForSession(client, LOCKS.migration);
    try {
      await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_DIR });
    } finally {
      await unlockSession(client, LOCKS.migration);
    }
  } finally {
    client.release();
  }
}
