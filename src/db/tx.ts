import pg from 'pg';

/** Runs `fn` in one transaction on one pooled connection; rolls back on any error. */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return transaction(pool, fn, 'COMMIT');
}

/** Runs `fn` in a transaction that is always rolled back: what a change would do, without making it (dry runs). */
export async function withRollback<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return transaction(pool, fn, 'ROLLBACK');
}

async function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, end: 'COMMIT' | 'ROLLBACK'): Promise<T> {
  const client = await pool.connect();
  try {
    return await transactionOn(client, fn, end);
  } finally {
    client.release();
  }
}

/** One transaction on a connection the caller holds (see withSession); rolls back on any error. */
export async function transactionOn<T>(
  client: pg.PoolClient,
  fn: (client: pg.PoolClient) => Promise<T>,
  end: 'COMMIT' | 'ROLLBACK' = 'COMMIT',
): Promise<T> {
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query(end);
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/**
 * Runs `fn` on one connection of its own, for work that keeps state in its session (temporary
 * tables of a bulk import). The connection is closed afterwards, never returned to the pool, so
 * none of that state can reach another caller.
 */
export async function withSession<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await fn(client);
  } finally {
    client.release(true);
  }
}

/**
 * Runs `fn` in the caller's transaction when handed a client (the contract of every domain
 * function that takes one), or in a transaction of its own when handed the pool.
 */
export async function inTransaction<T>(db: pg.Pool | pg.PoolClient, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return db instanceof pg.Pool ? withTransaction(db, fn) : fn(db);
}
