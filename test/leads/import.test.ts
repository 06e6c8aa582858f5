import path from 'node:path';
import { expect } from 'chai';
import type { Database } from '../../src/db/index.ts';
import { importLeads } from '../../src/leads/import.ts';
import { findLeadByExternalId } from '../../src/leads/store.ts';
import { freshDatabase } from '../helpers/db.ts';

const FIXTURES = path.resolve('test/fixtures/imports');

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

  it('refuses files it cannot read with a clear message', async () => {
    const missing = await importLeads(database.pool, path.join(FIXTURES, 'nope.csv')).catch((e: Error) => e);
    expect(missing).to.be.instanceOf(Error).with.property('message').that.contains('no such file');
    const wrongKind = await importLeads(database.pool, path.join(FIXTURES, 'leads.txt')).catch((e: Error) => e);
    expect(wrongKind).to.be.instanceOf(Error).with.property('message').that.contains('expected a .csv or .json file');
  });
});
