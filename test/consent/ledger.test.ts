import path from 'node:path';
import { expect } from 'chai';
import { consentStatesFor } from '../../src/consent/check.ts';
import { consentVerdict } from '../../src/consent/state.ts';
import { importConsents } from '../../src/consent/import.ts';
import { appendConsentEvents, type ConsentEventInput } from '../../src/consent/ledger.ts';
import type { Database } from '../../src/db/index.ts';
import { withTransaction } from '../../src/db/tx.ts';
import { importLeads } from '../../src/leads/import.ts';
import { saveLeads } from '../../src/leads/store.ts';
import { freshDatabase } from '../helpers/db.ts';
import { contactLead } from '../helpers/seed.ts';

const FIXTURES = path.resolve('test/fixtures/imports');
const T0 = Date.parse('2025-01-01T00:00:00Z');

describe('consent ledger', () => {
  let database: Database;
  let leadId: number;

  beforeEach(async () => {
    database = await freshDatabase();
    const [lead] = await saveLeads(database.pool, [contactLead('p-1', 'p@example.com')]);
    leadId = lead!.id;
  });
  afterEach(() => database.close());

  function event(
    action: ConsentEventInput['action'],
    minute: number,
    source = 'form',
    channel: 'email' | 'sms' = 'email',
  ): ConsentEventInput {
    return { leadId, channel, purpose: 'marketing', action, source, actor: 'test', occurredAt: new Date(T0 + minute * 60_000) };
  }

  async function append(...events: ConsentEventInput[]) {
    return withTransaction(database.pool, (client) => appendConsentEvents(client, events));
  }

  async function verdict(channel: 'email' | 'sms' = 'email') {
    const states = await consentStatesFor(database.pool, [leadId], channel, 'marketing');
    return consentVerdict(states.get(leadId), channel, 'marketing');
  }

  it('needs double opt-in for marketing email, and names the confirming event', async () => {
    expect(await verdict()).to.deep.equal({ allowed: false, reason: 'no_consent' });
    await append(event('grant', 0));
    expect(await verdict()).to.deep.equal({ allowed: false, reason: 'unconfirmed' });
    const [confirmId] = await append(event('confirm', 5));
    expect(await verdict()).to.deep.equal({ allowed: true, eventId: confirmId });
  });

  it('lets a standing grant allow other channels, and a legacy-confirmed grant allow email', async () => {
    const [smsGrant] = await append(event('grant', 0, 'form', 'sms'));
    expect(await verdict('sms')).to.deep.equal({ allowed: true, eventId: smsGrant });
    const [legacy] = await append(event('grant', 0, 'legacy-confirmed'));
    expect(await verdict()).to.deep.equal({ allowed: true, eventId: legacy });
  });

  it('withdraws, and a later grant needs confirming again', async () => {
    await append(event('grant', 0), event('confirm', 1));
    await append(event('withdraw', 10));
    expect(await verdict()).to.deep.equal({ allowed: false, reason: 'withdrawn' });
    await append(event('grant', 20));
    expect(await verdict()).to.deep.equal({ allowed: false, reason: 'unconfirmed' });
  });

  it('folds events by when they happened, not by when they were imported', async () => {
    await append(event('withdraw', 30));
    await append(event('grant', 0), event('confirm', 1));
    expect(await verdict()).to.deep.equal({ allowed: false, reason: 'withdrawn' });
  });

  it('refuses UPDATE, DELETE and TRUNCATE on the ledger', async () => {
    await append(event('grant', 0));
    for (const statement of ['UPDATE consent_events SET source = $$x$$', 'DELETE FROM consent_events', 'TRUNCATE consent_events CASCADE']) {
      const err = await database.pool.query(statement).catch((e: Error) => e);
      expect(err, statement).to.be.instanceOf(Error).with.property('message').that.contains('append-only');
    }
  });

  it('keeps state consistent under eight concurrent writers of the same key', async () => {
    await Promise.all(Array.from({ length: 8 }, (_, i) => append(event(i % 2 ? 'confirm' : 'grant', i), event('grant', 100 + i))));
    const { rows } = await database.pool.query(
      `SELECT s.status, s.deciding_event_id, (SELECT count(*)::int FROM consent_events) AS events FROM consent_state s`,
    );
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ status: 'confirmed', events: 16 });
    const { rows: last } = await database.pool.query(
      `SELECT id FROM consent_events WHERE action = 'confirm' ORDER BY occurred_at DESC, id DESC LIMIT 1`,
    );
    expect(rows[0].deciding_event_id).to.equal(last[0].id);
  });

  it('imports consent history, naming rows with unknown leads or bad values', async () => {
    await importLeads(database.pool, path.join(FIXTURES, 'leads.csv'));
    const report = await importConsents(database.pool, path.join(FIXTURES, 'consents.csv'));
    expect(report.imported).to.equal(3);
    expect(report.rejected).to.deep.equal([
      { row: 5, reason: "no lead with external_id 'ghost' (import leads first)" },
      { row: 6, reason: 'channel must be one of [email, sms]' },
      { row: 7, reason: 'action must be one of [grant, confirm, withdraw]' },
      { row: 8, reason: "occurred_at 'yesterday' is not an ISO 8601 instant" },
      { row: 9, reason: 'occurred_at needs a timezone (Z or +01:00)' },
    ]);
    const { rows } = await database.pool.query(
      `SELECT l.external_id, s.status FROM consent_state s JOIN leads l ON l.id = s.lead_id ORDER BY 1`,
    );
    expect(rows).to.deep.equal([
      { external_id: 'a-1', status: 'confirmed' },
      { external_id: 'a-6', status: 'confirmed' },
    ]);
  });

  it('keeps the evidence columns of a consent import, and names the import in every event', async () => {
    await importLeads(database.pool, path.join(FIXTURES, 'leads.csv'));
    const report = await importConsents(database.pool, path.join(FIXTURES, 'consents-evidence.csv'));
    expect(report.rejected).to.deep.equal([{ row: 3, reason: 'ip must be an IPv4 or IPv6 address' }]);
    const { rows } = await database.pool.query(`SELECT evidence, notice_version, notice_hash FROM consent_events ORDER BY id`);
    expect(rows[0].evidence).to.deep.include({
      file: 'consents-evidence.csv',
      row: 2,
      ip: '203.0.113.5',
      user_agent: 'Mozilla/5.0',
      form: 'footer',
    });
    expect(rows[0].evidence.import).to.match(/^import-/);
    expect(rows[0]).to.deep.include({ notice_version: 'privacy-v2', notice_hash: 'a'.repeat(64) });
    expect(rows[1].evidence.import).to.equal(rows[0].evidence.import);
  });
});
