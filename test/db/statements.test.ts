import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import pg from 'pg';
import { copyIn, copyOut } from '../../src/db/copy.ts';
import { freshDatabaseUrl } from '../helpers/db.ts';

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(file);
    return entry.name.endsWith('.ts') ? [file] : [];
  });
}

const load = (file: string) => import(pathToFileURL(path.resolve(file)).href);

/**
 * Every module of the engine loaded, so every statement it declares is declared; the registry is
 * read through the same kind of import, because a module imported by URL at run time is another
 * instance than one this file imports statically.
 */
async function allStatements(): Promise<ReadonlyMap<string, string>> {
  for (const file of sourceFiles(path.resolve('src'))) await load(file);
  const { declaredStatements } = (await load('src/db/statement.ts')) as typeof import('../../src/db/statement.ts');
  return declaredStatements();
}

/**
 * listmonk prepares its named queries at start so a broken one fails the boot; we prepare ours in
 * the suite, against the migrated schema, so a broken one fails the tests instead of a send.
 * PREPARE parses and plans a statement without running it, inferring parameter types exactly as
 * the extended protocol does when node-postgres sends a query.
 */
describe('SQL statements', function () {
  this.timeout(60_000);

  it('all prepare against the migrated schema', async () => {
    const statements = [...(await allStatements())];
    expect(statements.length).to.be.greaterThan(100);

    const pool = new pg.Pool({ connectionString: await freshDatabaseUrl(), max: 1 });
    const client = await pool.connect();
    const broken: string[] = [];
    // Neither the temporary tables of a bulk import, nor COPY, nor ANALYZE can be prepared: the
    // tables are created first (so statements that use them prepare), each COPY runs with no rows,
    // and ANALYZE runs (on empty tables).
    const kind = (text: string) =>
      /^\s*CREATE TEMPORARY TABLE/i.test(text) ? 0 : /^\s*COPY\b/i.test(text) ? 2 : /^\s*ANALYZE\b/i.test(text) ? 3 : 1;
    try {
      for (const [name, text] of statements.sort((a, b) => kind(a[1]) - kind(b[1]))) {
        try {
          if (kind(text) === 0 || kind(text) === 3) await client.query(text);
          else if (kind(text) === 2 && /\bFROM STDIN\b/i.test(text)) await copyIn(client, text, '');
          else if (kind(text) === 2) for await (const _ of copyOut(client, text));
          else {
            await client.query(`PREPARE checked AS ${text}`);
            await client.query('DEALLOCATE checked');
          }
        } catch (err) {
          broken.push(`${name}: ${(err as Error).message}`);
        }
      }
    } finally {
      client.release(true);
      await pool.end();
    }
    expect(broken, broken.join('\n')).to.deep.equal([]);
  });

  it('have names that say their domain', async () => {
    const domains = new Set(
      fs
        .readdirSync(path.resolve('src'), { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name),
    );
    for (const name of (await allStatements()).keys()) {
      expect(name).to.match(/^[a-z]+\.[a-z0-9-]+$/);
      expect(domains, `${name} names no folder under src/`).to.include(name.split('.')[0]);
    }
  });
});
