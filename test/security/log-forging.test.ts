import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { log, setLogLevel, type LogLevel } from '../../src/log.ts';
import { TEST_DATA_DIR } from '../helpers/db.ts';
import type { TestEngine } from '../helpers/engine.ts';
import { apiKeyFor } from '../helpers/keys.ts';
import { postLogin } from '../helpers/sign-in.ts';
import { useServedEngine, type TestWeb } from '../helpers/web.ts';

/** The log lines (src/log.ts writes to stderr) written while `act` runs, at level info. */
async function logLines(act: () => Promise<unknown>): Promise<string[]> {
  const written: string[] = [];
  const original = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => written.push(String(chunk)) > 0) as typeof process.stderr.write;
  setLogLevel('info');
  try {
    await act();
  } finally {
    process.stderr.write = original;
    setLogLevel((process.env.TEST_LOG_LEVEL as LogLevel | undefined) ?? 'error');
  }
  return written.join('').split('\n').slice(0, -1);
}

/**
 * Item 13: logs held personal data and could be forged. Before: a failed sign-in logged
 * `email=<as typed>`, so an email holding "\n<timestamp> info  …" wrote a second, forged line; a
 * statement failing on a value logged PostgreSQL's message quoting it (`invalid input syntax for
 * type inet: "jane.doe@…"`), and the embedded server's own log kept the row in DETAIL lines.
 */
describe('security: log forging and personal data in logs', function () {
  this.timeout(60_000);
  const served = useServedEngine();
  let t: TestEngine;
  let web: TestWeb;
  before(() => ({ t, web } = served()));

  it('a sign-in with a newline in the email writes one line, naming the account by a keyed hash', async () => {
    const forged = `${new Date().toISOString()} info  forged: admin@example.com signed in`;
    const lines = await logLines(() =>
      postLogin(web.base, `mallory@example.com\n${forged}`, 'wrong password', { forwardedFor: '203.0.113.5' }),
    );
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/ warn {2}failed sign-in account=[0-9a-f]{12} ip=203\.0\.113\.5$/);
    expect(lines[0]).not.to.contain('mallory');
  });

  it('escapes control characters in every message and value, and quotes values that could forge a field', async () => {
    const lines = await logLines(async () => {
      log.warn('first\nsecond', {
        value: 'a\r\n2026-01-01T00:00:00.000Z info  forged',
        field: 'x ip=10.0.0.1',
        terminal: '\u001b[2J\u2028',
      });
    });
    expect(lines).to.have.length(1);
    expect(lines[0]!.replace(/^\S+ /, '')).to.equal(
      'warn  first\\nsecond value="a\\r\\n2026-01-01T00:00:00.000Z info  forged" field="x ip=10.0.0.1" terminal="\\u001b[2J\\u2028"',
    );
  });

  it('a statement failing on an address logs what failed, never the address, here or in the PostgreSQL log', async () => {
    // Rules a database administrator might add. Refusing a row puts it in the error's detail;
    // a failed cast quotes the value in the error's message itself.
    await t.database.pool.query(`ALTER TABLE leads ADD CONSTRAINT leads_email_not_refused CHECK (email NOT LIKE '%@refused.example')`);
    await t.database.pool.query(
      `ALTER TABLE leads ADD CONSTRAINT leads_email_cast CHECK (email NOT LIKE '%@cast.example' OR email::inet IS NOT NULL)`,
    );
    const key = await apiKeyFor(t.database, 'admin');
    const create = (externalId: string, email: string) =>
      fetch(`${web.base}/api/v1/leads`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ external_id: externalId, email, first_name: 'Jane' }),
      }).then((res) => res.status);

    let statuses: number[] = [];
    const lines = await logLines(async () => {
      statuses = [await create('jane-1', 'jane.doe.1@refused.example'), await create('jane-2', 'jane.doe.2@cast.example')];
    });
    expect(statuses).to.deep.equal([500, 500]);
    expect(lines).to.have.length(2);
    expect(lines[0]).to.contain(
      'request failed method=POST path=/api/v1/leads error="error: new row for relation \\"leads\\" violates check',
    );
    expect(lines[0]).to.contain('(SQLSTATE 23514, table leads, constraint leads_email_not_refused)');
    expect(lines[1]).to.contain('error="error: invalid input syntax for type inet: \\"…\\" (SQLSTATE 22P02)');
    for (const line of lines) expect(line).not.to.match(/jane\.doe|Jane/);
    const serverLog = fs.readFileSync(path.join(TEST_DATA_DIR, 'postgres.log'), 'utf8');
    expect(serverLog).to.contain('database system is ready');
    expect(serverLog).not.to.match(/jane\.doe/);
  });
});
