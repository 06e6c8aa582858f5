import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { ESLint } from 'eslint';

const run = promisify(execFile);

/**
 * The guards that keep the layers apart are themselves tested: a config edit that silently
 * switched one off would otherwise let the next shortcut through. `npm test` runs them on the
 * whole tree (lint, check:cycles); these prove they bite.
 */
describe('boundaries', function () {
  this.timeout(60_000);
  const eslint = new ESLint();
  const problems = async (file: string, code: string) =>
    (await eslint.lintText(code, { filePath: path.resolve(file) }))[0]!.messages.map((m) => `${m.ruleId}: ${m.message}`);

  it('keeps the database out of http/ and cli/', async () => {
    const shell = `import pg from 'pg';\nimport { withTransaction } from '../db/tx.ts';\nexport const f = (engine: { database: { pool: pg.Pool } }) => engine.database.pool.query(stmt);\ndeclare const stmt: string;\nvoid withTransaction;\n`;
    for (const file of ['src/http/sneaky.ts', 'src/cli/commands/sneaky.ts']) {
      const found = await problems(file, shell);
      expect(
        found.filter((p) => p.startsWith('no-restricted-imports')),
        file,
      ).to.have.length(2);
      expect(found.filter((p) => p.includes('http/ and cli/ are shells')).length, file).to.be.at.least(4);
    }
  });

  it('refuses SQL written inline anywhere but src/db/', async () => {
    const inline = "export const f = (db: { query(s: string): void }) => db.query('SELECT 1');\n";
    expect(await problems('src/leads/sneaky.ts', inline)).to.deep.equal([
      'no-restricted-syntax: SQL is declared once with statement() in its domain (src/db/statement.ts), so the suite can prepare every query',
    ]);
    expect(await problems('src/db/sneaky.ts', inline)).to.deep.equal([]);
  });

  it('finds an import cycle, type-only imports included', async () => {
    const dpdm = path.resolve('node_modules/.bin/dpdm');
    const args = ['--no-tree', '--no-progress', '--ignore-skip-warning', 'node_modules', '--exit-code', 'circular:1'];
    const cycle = await run(dpdm, [...args, 'test/fixtures/cycle/a.ts']).catch((err: { code: number; stdout: string }) => err);
    expect(cycle).to.have.property('code', 1);
    expect((cycle as { stdout: string }).stdout).to.contain('test/fixtures/cycle/a.ts -> test/fixtures/cycle/b.ts');
  });
});
