import type pg from 'pg';

/** What runs a statement: the pool, or one connection (a transaction's, or a dispatcher's own). */
export type Queryable = pg.Pool | pg.PoolClient | pg.Client;

const declared = new Map<string, string>();

/**
 * Declares one SQL statement under a unique name, at module level, and returns its text. Every
 * statement the engine runs is declared this way, in the domain that owns its tables, so the
 * suite can prepare them all against the migrated schema (test/db/statements.test.ts): a broken
 * query fails the tests, never a customer's send. Names read `<domain>.<what it does>`.
 */
export function statement(name: string, text: string): string {
  const earlier = declared.get(name);
  if (earlier !== undefined && earlier !== text) throw new Error(`statement '${name}' is declared twice with different text`);
  declared.set(name, text);
  return text;
}

/** Every statement declared by the modules loaded so far, by name. */
export function declaredStatements(): ReadonlyMap<string, string> {
  return declared;
}
