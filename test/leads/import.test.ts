import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { Database } from '../../src/db/index.ts';
import { appendConsentEvents } from '../../src/consent/ledger.ts';
import { withTransaction } from '../../src/db/tx.ts';
import { eraseLead } from '../../src/leads/erase.ts';
import { importLeads, KEPT_PROBLEMS, type ImportProblem } from '../../src/leads/import.ts';
import { findLeadByExternalId, leadWithAddress, saveLeads } from '../../src/leads/store.ts';
import { freshDatabase } from '../helpers/db.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';

const FIXTURES = path.resolve('test/fixtures/imports');
const exec = promisify(execFile);

function writeCsv(lines: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lead-import-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'leads.csv');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

describe('lead import', () => {
  let database: Database;
  beforeEach(async () => {
    database = await freshDatabase();
  });
  afterEach(() => database.close());

  it('keeps the good rows and names each bad row with its row number and reason', async () => {
    const report = await importLeads(database.pool, path.join(FIXTURES, 'leads.csv'), { batchSize: 2 });
    expect(report.rejected).to.deep.equal([
      { row: 3, reason: "email 'not-an-email' is not a valid address" },
      { row: 4, reason: 'a lead needs an email or a phone' },
      { row: 5, reason: "locale 'english' must look like de or de-DE; timezone 'Mars/Base' is not an IANA timezone such as Europe/Berlin" },
      { row: 6, reason: 'external_id is required' },
    ]);
    expect(report.warnings).to.deep.equal([{ row: 8, message: "external_id 'a-1' also on row 2; this later row wins" }]);
    expect(report).to.include({ imported: 3, created: 2, updated: 1 });
    const { rows } = await database.pool.query('SELECT external_id FROM leads ORDER BY external_id');
    expect(rows.map((r) => r.external_id)).to.deep.equal(['a-1', 'a-6']);
  });

  it('types extra columns as attributes and lets the later row of a repeated id win', async () => {
    await importLeads(database.pool, path.join(FIXTURES, 'leads.csv'));
    const anna = await findLeadByExternalId(database.pool, 'a-1');
    expect(anna).to.include({ email: 'anna.new@example.com', firstName: 'Anna', locale: 'de-DE', timezone: 'Europe/Berlin' });
    expect(anna!.tags).to.deep.equal(['customer']);
    // Attributes merge: the later row has no note, the earlier one's stays.
    expect(anna!.attributes).to.deep.equal({ orders: 8, vip: true, score: 3.5, note: 'likes shoes' });
    const finn = await findLeadByExternalId(database.pool, 'a-6');
    expect(finn).to.include({ persona: 'loyalist', phone: '+4915112345678' });
    expect(finn!.attributes).to.deep.equal({ orders: 0, vip: false, score: -1 });
  });

  it('updates on re-import instead of duplicating', async () => {
    await importLeads(database.pool, path.join(FIXTURES, 'leads.csv'));
    const again = await importLeads(database.pool, path.join(FIXTURES, 'leads.csv'));
    expect(again).to.include({ created: 0 });
    const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM leads');
    expect(rows[0].n).to.equal(2);
  });

  it('imports JSON arrays with the same fields, naming bad entries by position', async () => {
    const report = await importLeads(database.pool, path.join(FIXTURES, 'leads.json'), { phoneRegion: 'DE' });
    expect(report.rejected).to.deep.equal([{ row: 2, reason: 'a lead needs an email or a phone' }]);
    expect(report.imported).to.equal(3);
    expect(report.warnings).to.deep.equal([
      { row: 4, message: "phone '12345' is not a valid number (read in region DE); SMS to this lead will be suppressed (invalid_address)" },
    ]);
    expect((await findLeadByExternalId(database.pool, 'j-3'))!.phone).to.equal('+4915112345678');
    expect((await findLeadByExternalId(database.pool, 'j-4'))!.phone).to.equal('12345');
    expect((await findLeadByExternalId(database.pool, 'j-1'))!.attributes).to.deep.equal({ orders: 3 });
  });

  it('in batches, lets the last of a repeated id win, merging attributes, and names each repeat with the row before it', async () => {
    const file = writeCsv([
      'external_id,email,first_name,tags,orders,note,city',
      'r-1,r1@example.com,First,customer,1,one,',
      'r-2,r2@example.com,Other,customer,2,,',
      'r-1,r1.b@example.com,Second,vip,3,,Berlin',
      'r-3,r3@example.com,Third,customer,4,,',
      'r-1,r1.c@example.com,Third,vip;customer,,,',
      'r-2,r2@example.com,Later,customer,5,,',
    ]);
    const progress: number[] = [];
    const report = await importLeads(database.pool, file, { batchSize: 2, onProgress: (done) => progress.push(done) });
    expect(report).to.include({ imported: 6, created: 3, updated: 3, rejectedCount: 0, warningCount: 3 });
    expect(report.warnings).to.deep.equal([
      { row: 4, message: "external_id 'r-1' also on row 2; this later row wins" },
      { row: 6, message: "external_id 'r-1' also on row 4; this later row wins" },
      { row: 7, message: "external_id 'r-2' also on row 3; this later row wins" },
    ]);
    const r1 = await findLeadByExternalId(database.pool, 'r-1');
    expect(r1).to.include({ email: 'r1.c@example.com', firstName: 'Third' });
    expect(r1!.tags).to.deep.equal(['vip', 'customer']);
    expect(r1!.attributes).to.deep.equal({ orders: 3, note: 'one', city: 'Berlin' });
    expect((await findLeadByExternalId(database.pool, 'r-2'))!.attributes).to.deep.equal({ orders: 5 });
    // Progress after every batch, ending with every row.
    expect(progress.at(-1)).to.equal(6);
    expect(progress).to.deep.equal([...progress].sort((a, b) => a - b));
    expect(progress.length).to.be.greaterThan(2);
  });

  it('keeps the first problems in the report and hands every one to onProblem', async () => {
    const rows = ['external_id,email'];
    for (let i = 0; i < 150; i++) rows.push(`b-${i},not-an-email`, `g-${i},g${i}@example.com`);
    rows.push('n\u00001,n1@example.com', 'g-last,last@example.com');
    const seen: ImportProblem[] = [];
    const report = await importLeads(database.pool, writeCsv(rows), { onProblem: (p) => seen.push(p) });
    expect(report).to.include({ imported: 151, created: 151, rejectedCount: 151 });
    expect(report.rejected).to.have.length(KEPT_PROBLEMS);
    expect(report.rejected[0]).to.deep.equal({ row: 2, reason: "email 'not-an-email' is not a valid address" });
    expect(seen).to.have.length(151);
    expect(seen.at(-1)).to.deep.equal({
      kind: 'rejected',
      row: 302,
      reason: 'external_id holds a NUL character (\\u0000), which no field accepts',
    });
  });

  it('carries an erased person’s withdrawal to the new lead of a later batch, naming its row', async () => {
    const [old] = await saveLeads(database.pool, [leadWithAddress('old', { email: 'gone@example.com' })]);
    await withTransaction(database.pool, (client) =>
      appendConsentEvents(client, [
        {
          leadId: old!.id,
          channel: 'email',
          purpose: 'marketing',
          action: 'withdraw',
          source: 'test',
          actor: 'test',
          occurredAt: new Date('2025-01-01'),
        },
      ]),
    );
    await eraseLead(database.pool, 'old', { outboxDir: os.tmpdir() }, new Date());
    const file = writeCsv(['external_id,email', 'k-1,k1@example.com', 'k-2,k2@example.com', 'k-3,GONE@example.com']);
    const report = await importLeads(database.pool, file, { batchSize: 2 });
    expect(report.warnings).to.have.length(1);
    expect(report.warnings[0]).to.deep.include({ row: 4 });
    const { rows } = await database.pool.query(
      `SELECT l.external_id, s.status FROM consent_state s JOIN leads l ON l.id = s.lead_id WHERE l.external_id LIKE 'k-%'`,
    );
    expect(rows).to.deep.equal([{ external_id: 'k-3', status: 'withdrawn' }]);
  });

  it('refuses files it cannot read with a clear message', async () => {
    const missing = await importLeads(database.pool, path.join(FIXTURES, 'nope.csv')).catch((e: Error) => e);
    expect(missing).to.be.instanceOf(Error).with.property('message').that.contains('no such file');
    const wrongKind = await importLeads(database.pool, path.join(FIXTURES, 'leads.txt')).catch((e: Error) => e);
    expect(wrongKind).to.be.instanceOf(Error).with.property('message').that.contains('expected a .csv or .json file');
  });
});

describe('touchpoint leads import', function () {
  this.timeout(60_000);
  let t: TestEngine;
  before(async () => {
    t = await testEngine();
  });
  after(() => t.close());

  it('shows the first problems and lists every one in a file beside the input when there are more', async () => {
    const rows = ['external_id,email'];
    for (let i = 0; i < 120; i++) rows.push(`b-${i},not-an-email`, `g-${i},g${i}@example.com`);
    const file = writeCsv(rows);
    const cli = await exec(process.execPath, ['bin/touchpoint.js', 'leads', 'import', file], { env: { ...process.env, ...t.env } }).catch(
      (err: { code: number; stdout: string }) => err,
    );
    expect(cli).to.include({ code: 1 });
    const problems = file.replace(/\.csv$/, '.problems.csv');
    expect(cli.stdout).to.contain(`every rejected row and warning is listed in ${problems}`);
    expect(cli.stdout).to.contain('imported 120 row(s): 120 new lead(s), 0 updated');
    expect(cli.stdout).to.contain('rejected 120 row(s); the good rows were kept:');
    expect(cli.stdout).to.contain('  … and 20 more');
    const lines = fs.readFileSync(problems, 'utf8').trimEnd().split('\n');
    expect(lines).to.have.length(121);
    expect(lines[1]).to.equal(`2,rejected,email 'not-an-email' is not a valid address`);
    expect(lines[120]).to.equal(`240,rejected,email 'not-an-email' is not a valid address`);
  });
});
