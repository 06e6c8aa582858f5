import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { log } from '../../src/log.ts';
import { TEST_DATA_DIR } from '../helpers/db.ts';
import type { TestEngine } from '../helpers/engine.ts';
import { apiKeyFor } from '../helpers/keys.ts';
import { captureJsonLog, captureLog } from '../helpers/logs.ts';
import { postLogin } from '../helpers/sign-in.ts';
import { useServedEngine, type TestWeb } from '../helpers/web.ts';

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
    const forged = JSON.stringify({ level: 'info', msg: 'forged: admin@example.com signed in' });
    const lines = await captureJsonLog(() =>
      postLogin(web.base, `mallory@example.com\n${forged}`, 'wrong password', { forwardedFor: '203.0.113.5' }),
    );
    // Each line read back as one JSON object (captureJsonLog fails otherwise): the sign-in's, and one per request.
    expect(lines.map((l) => l.json.msg)).to.deep.equal(['request', 'failed sign-in', 'request']);
    expect(lines[1]!.json).to.include({ level: 'warn', ip: '203.0.113.5' });
    expect(lines[1]!.json.account).to.match(/^[0-9a-f]{12}$/);
    for (const line of lines) expect(line.text).not.to.contain('mallory').and.not.to.contain('forged');
  });

  it('escapes control characters in every message and value, as JSON and on a terminal', async () => {
    const fields = { value: 'a\r\n2026-01-01T00:00:00.000Z info  forged', field: 'x ip=10.0.0.1', terminal: '\u001b[2J\u2028\u009b' };
    const logIt = async () => log.warn('first\nsecond', fields);

    const [json, ...more] = await captureJsonLog(logIt);
    expect(more).to.deep.equal([]);
    // eslint-disable-next-line no-control-regex -- no raw control character, DEL, C1 control or line separator may be written
    expect(json!.text).not.to.match(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    expect(json!.json).to.include({ level: 'warn', msg: 'first\nsecond', ...fields });

    const pretty = await captureLog(logIt, { format: 'pretty' });
    expect(pretty).to.have.length(1);
    expect(pretty[0]!.replace(/^\S+ /, '')).to.equal(
      'warn  first\\nsecond value="a\\r\\n2026-01-01T00:00:00.000Z info  forged" field="x ip=10.0.0.1" terminal="\\u001b[2J\\u2028\\u009b"',
    );
  });

  it("a field named like one of the line's own keys cannot replace it", async () => {
    const [line] = await captureJsonLog(async () => log.info('real', { level: 'error', msg: 'forged', time: 'then' }));
    expect(line!.json).to.include({ level: 'info', msg: 'real', field_level: 'error', field_msg: 'forged', field_time: 'then' });
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
    const lines = await captureJsonLog(async () => {
      statuses = [await create('jane-1', 'jane.doe.1@refused.example'), await create('jane-2', 'jane.doe.2@cast.example')];
    });
    expect(statuses).to.deep.equal([500, 500]);
    const failed = lines.filter((l) => l.json.msg === 'request failed').map((l) => l.json);
    expect(failed).to.have.length(2);
    expect(failed[0]).to.include({ method: 'POST', route: '/api/v1/leads' });
    expect(failed[0]!.error).to.contain('error: new row for relation "leads" violates check');
    expect(failed[0]!.error).to.contain('(SQLSTATE 23514, table leads, constraint leads_email_not_refused)');
    expect(failed[1]!.error).to.contain('error: invalid input syntax for type inet: "…" (SQLSTATE 22P02)');
    for (const line of lines) expect(line.text).not.to.match(/jane\.doe|Jane/);
    const serverLog = fs.readFileSync(path.join(TEST_DATA_DIR, 'postgres.log'), 'utf8');
    expect(serverLog).to.contain('database system is ready');
    expect(serverLog).not.to.match(/jane\.doe/);
  });
});
