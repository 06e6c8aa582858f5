import pg from 'pg';

/** A transaction whose end its caller decides: for work that spans more than one function call. */
export interface OpenTransaction {
  client: pg.PoolClient;
  /** Commits and gives the connection back; rejects (after rolling back) when the commit fails. */
  commit(): Promise<void>;
  /** Rolls back and gives the connection back; never rejects. */
  rollback(): Promise<void>;
}

/**
 * Begins a transaction on one pooled connection; commit or roll it back, once. While it is open,
 * the connection may sit idle (between statements, or waiting for its caller): the pool listens
 * for errors of idle connections only, so one that the server ends meanwhile would throw an
 * uncaught error. Its error is kept here instead, and the next statement or the commit fails.
 */
export async function beginTransaction(pool: pg.Pool): Promise<OpenTransaction> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const onError = (err: Error) => (lost ??= err);
  client.on('error', onError);
  const release = () => {
    client.removeListener('error', onError);
    client.release(lost);
  };
  try {
    await client.query('BEGIN');
  } catch (err) {
    release();
    throw err;
  }
  let ended = false;
  const end = async (how: 'COMMIT' | 'ROLLBACK') => {
    if (ended) return;
    ended = true;
    try {
      await client.query(how);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      release();
    }
  };
  return { client, commit: () => end('COMMIT'), rollback: () => end('ROLLBACK').catch(() => {}) };
}

/** Runs `fn` in one transaction on one pooled connection; rolls back on any error. */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return transaction(pool, fn, 'COMMIT');
}

/** Runs `fn` in a transaction that is always rolled back: what a change would do, without making it (dry runs). */
export async function withRollback<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return transaction(pool, fn, 'ROLLBACK');
}

async function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, end: 'COMMIT' | 'ROLLBACK'): Promise<T> {
  const tx = await beginTransaction(pool);
  try {
    const result = await fn(tx.client);
    await (end === 'COMMIT' ? tx.commit() : tx.rollback());
    return result;
  } catch (err) {
    await tx.rollback();
    throw err;
  }
}

/** One transaction on a connection the caller holds (see withSession); rolls back on any error. */
export async function transactionOn<T>(client: pg.PoolClient, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
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
