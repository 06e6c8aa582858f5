import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { AppError } from '../errors.ts';
import { log } from '../log.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded.ts';

export type Db = NodePgDatabase;

/** A query builder over one connection, for work inside a transaction the caller holds. */
export function clientDb(client: pg.PoolClient): Db {
  return drizzle(client);
}

/** One pool per process, shared by our queries and Agenda. */
export interface Database {
  pool: pg.Pool;
  db: Db;
  url: string;
  /** Closes the pool, then the embedded server if this process was the last one using it. */
  close(): Promise<void>;
}

const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');
/** Any constant works; it only has to be the same for every process migrating this database. */
const MIGRATION_LOCK = 7_245_001;

// Timestamps and bigint ids come back as JS values our types expect.
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
    throw cause instanceof AppError ? cause : new AppError('database', `cannot prepare the database: ${(cause as Error).message}`, { cause });
  }
  return {
    pool,
    db: drizzle(pool),
    url,
    async close() {
      log.debug('closing the database pool', { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount });
      await pool.end();
      if (embedded) log.debug(`embedded PostgreSQL: ${await embedded.stopIfUnused()}`);
    },
  };
}

/** Applies committed migrations; an advisory lock keeps concurrent starts from racing. */
export async function migrateDatabase(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_DIR });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}
