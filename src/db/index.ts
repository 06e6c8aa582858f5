import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { AppError, isConnectionError } from '../errors.ts';
import { log } from '../log.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded.ts';
import { LOCKS, whileLocked } from './locks.ts';
import { DatabaseWatch } from './watch.ts';

/** One pool per process, shared by our queries and Agenda. */
export interface Database {
  pool: pg.Pool;
  url: string;
  /** Whether the server answered the watch's last check (true while nothing watches). */
  reachable(): boolean;
  /**
   * For a long-running process: checks the server every second from now on, logs an outage once,
   * starts the embedded server again when it died, and calls `onReturn` with the moment an outage
   * began each time the server answers again after it (db/watch.ts).
   */
  watch(onReturn: (downSince: Date) => void): void;
  /** Stops watching, closes the pool, then stops the embedded server if no other process uses it. */
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
  // An idle client losing its server (PostgreSQL stopping or dying) must not crash the process;
  // the pool drops it and connects anew when asked. The watch reports the outage itself.
  const connectionLost = (err: Error) => {
    if (isConnectionError(err)) log.debug('a database connection was lost', { error: err.message });
    else log.error('a database connection failed', { error: err });
  };
  pool.on('error', connectionLost);
  // The pool listens only while a client is idle. One checked out between two queries (inside a
  // transaction, or LISTENing for Agenda) gets the server's "terminating connection" as an 'error'
  // event, which would end the process; its holder sees the failure at its next query.
  pool.on('connect', (client) => client.on('error', connectionLost));
  try {
    await migrateDatabase(pool);
  } catch (cause) {
    await pool.end();
    await embedded?.stopIfUnused().catch((err: unknown) => log.warn('could not leave the embedded PostgreSQL', { error: err }));
    throw cause instanceof AppError
      ? cause
      : new AppError('database', `cannot prepare the database: ${(cause as Error).message}`, { cause });
  }
  let watch: DatabaseWatch | undefined;
  return {
    pool,
    url,
    reachable: () => watch?.reachable ?? true,
    watch(onReturn) {
      watch ??= new DatabaseWatch(url, embedded, onReturn);
      watch.start();
    },
    async close() {
      // Before the server may be stopped: a watch must not start it again.
      await watch?.stop();
      log.debug('closing the database pool', { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount });
      await pool.end();
      if (embedded) log.debug(`embedded PostgreSQL: ${await embedded.stopIfUnused()}`);
    },
  };
}

/** Applies committed migrations; an advisory lock keeps concurrent starts from racing. */
export async function migrateDatabase(pool: pg.Pool): Promise<void> {
  await whileLocked(pool, LOCKS.migration, (client) => migrate(drizzle(client), { migrationsFolder: MIGRATIONS_DIR }));
}
