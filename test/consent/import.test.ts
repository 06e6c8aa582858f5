import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { commonConsentRow, consentRowSchema, importConsents } from '../../src/consent/import.ts';
import { appendConsentEvents, type ConsentEventInput } from '../../src/consent/ledger.ts';
import { verifyLedger } from '../../src/consent/verify.ts';
import type { Database } from '../../src/db/index.ts';
import { withTransaction } from '../../src/db/tx.ts';
import { saveLeads } from '../../src/leads/store.ts';
import { freshDatabase } from '../helpers/db.ts';
import { contactLead } from '../helpers/seed.ts';

const HEADER = 'external_id,channel,purpose,action,occurred_at,source';

/**
 * A small mixed history: grants, confirmations, withdrawals, legacy-confirmed grants, events out
 * of order, an unknown lead, a repeated row, bad values; batches of 3 so keys cross batches.
 */
const MIXED = [
  HEADER,
  'a-1,email,marketing,grant,2025-01-01T10:00:00Z,signup-form', // 2
  'a-1,email,marketing,confirm,2025-01-01T10:05:00Z,double-opt-in', // 3
  'a-2,email,marketing,grant,2025-01-02T10:00:00.123456+02:00,signup-form', // 4
  'ghost,email,marketing,grant,2025-01-01T10:00:00Z,signup-form', // 5: unknown lead
  'a-2,sms,marketing,grant,2025-01-02T11:00:00Z,shop', // 6
  'a-3,email,marketing,grant,2025-01-01T09:00:00Z,legacy-confirmed', // 7
  'a-3,email,marketing,withdraw,2025-01-03T09:00:00Z,unsubscribe-link', // 8
  'a-1,email,marketing,confirm,2025-01-01T10:05:00Z,double-opt-in', // 9: the same row again
  'a-2,fax,marketing,grant,2025-01-02T11:00:00Z,shop', // 10: bad channel
  'a-4,email,marketing,withdraw,2025-02-01T00:00:00Z,support', // 11: a withdrawal first …
  'a-4,email,marketing,confirm,2025-01-01T00:00:00Z,double-opt-in', // 12: … then an older confirmation
  'a-4,email,newsletter,grant,2025-01-01T00:00:00Z,  shop  ', // 13: joi trims
  'a-3,email,marketing,grant,2025-01-04T00:00:00Z,signup-form', // 14: granted again after the withdrawal
  'a-1,email,marketing,withdraw,yesterday,support', // 15: bad instant
].join('\n');

const LEADS = ['a-1', 'a-2', 'a-3', 'a-4'].map((externalId, i) =>
  contactLead(externalId, `${externalId}@example.com`, i === 1 ? '+14155550100' : null),
);

describe('consent import in bulk', () => {
  let database: Database;
  let dir: string;

  beforeEach(async () => {
    database = await freshDatabase();
    await saveLeads(database.pool, LEADS);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'consent-import-'));
  });
  afterEach(async () => {
    await database.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const file = (text: string, name = 'consents.csv') => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };

  const leadIds = async (db: Database) => {
    const { rows } = await db.pool.query<{ id: string; external_id: string }>(`SELECT id, external_id FROM leads`);
    return new Map(rows.map((r) => [r.external_id, Number(r.id)]));
  };

  /** What the ledger holds, without ids and the import's name: comparable between two databases. */
  const ledgerOf = async (db: Database) => {
    const { rows: events } = await db.pool.query(
      `SELECT l.external_id, e.channel, e.purpose, e.action, e.source, e.evidence - 'import' AS evidence, e.actor,
              e.occurred_at, e.notice_version, e.notice_hash, e.subject_hash
         FROM consent_events e JOIN leads l ON l.id = e.lead_id ORDER BY e.id`,
    );
    const { rows: states } = await db.pool.query(
      `SELECT l.external_id, s.channel, s.purpose, s.status, d.evidence->'row' AS deciding_row
         FROM consent_state s JOIN leads l ON l.id = s.lead_id JOIN consent_events d ON d.id = s.deciding_event_id
        ORDER BY 1, 2, 3`,
    );
    return { events, states };
  };

  it('keeps the semantics of appending row by row: events, state, rejected rows', async () => {
    const report = await importConsents(database.pool, file(MIXED), { batchSize: 3 });
    expect(report.imported).to.equal(11);
    expect(report.rejected).to.deep.equal([
      { row: 5, reason: "no lead with external_id 'ghost' (import leads first)" },
      { row: 10, reason: 'channel must be one of [email, sms]' },
      { row: 15, reason: "occurred_at 'yesterday' is not an ISO 8601 instant" },
    ]);

    // The same good rows through the row-by-row path, one append per row, as imports were made before.
    const other = await freshDatabase();
    try {
      await saveLeads(other.pool, LEADS);
      const ids = await leadIds(other);
      const rejected = new Set(report.rejected.map((r) => r.row));
      const lines = MIXED.split('\n').slice(1);
      for (const [i, line] of lines.entries()) {
        const row = i + 2;
        if (rejected.has(row)) continue;
        const [externalId, channel, purpose, action, occurredAt, source] = line.split(',');
        const event: ConsentEventInput = {
          leadId: ids.get(externalId!)!,
          channel: channel as 'email' | 'sms',
          purpose: purpose!,
          action: action as ConsentEventInput['action'],
          source: source!.trim(),
          evidence: { file: 'consents.csv', row },
          actor: 'import',
          occurredAt: new Date(occurredAt!),
        };
        await withTransaction(other.pool, (client) => appendConsentEvents(client, [event]));
      }
      const [bulk, perRow] = [await ledgerOf(database), await ledgerOf(other)];
      expect(bulk.events).to.deep.equal(perRow.events);
      expect(bulk.states).to.deep.equal(perRow.states);
      expect(bulk.states.map((s) => [s.external_id, s.channel, s.purpose, s.status, s.deciding_row])).to.deep.equal([
        ['a-1', 'email', 'marketing', 'confirmed', 9],
        ['a-2', 'email', 'marketing', 'granted', 4],
        ['a-2', 'sms', 'marketing', 'granted', 6],
        ['a-3', 'email', 'marketing', 'granted', 14],
        ['a-4', 'email', 'marketing', 'withdrawn', 11],
        ['a-4', 'email', 'newsletter', 'granted', 13],
      ]);
      expect(await verifyLedger(other.pool)).to.not.have.property('broken');
    } finally {
      await other.close();
    }
  });

  it('seals every event as the ledger does: the chain verifies across batches, around appends of the per-row path', async () => {
    const ids = await leadIds(database);
    const one = (action: ConsentEventInput['action']): ConsentEventInput => ({
      leadId: ids.get('a-1')!,
      channel: 'email',
      purpose: 'marketing',
      action,
      source: 'form',
      actor: 'test',
      occurredAt: new Date('2025-03-01T00:00:00Z'),
    });
    await withTransaction(database.pool, (client) => appendConsentEvents(client, [one('grant')]));
    // Values whose JSON and COPY forms need escaping, every evidence column, and non-ASCII text.
    const tricky = [
      `${HEADER},ip,user_agent,form,notice_version,notice_hash`,
      `a-1,email,marketing,grant,2025-01-01T10:00:00Z,"quote "" back\\slash, tab\there",203.0.113.5,"Mozilla/5.0 ""é"" 😀",footer,v2,${'A'.repeat(64)}`,
      `a-2,sms,marketing,grant,2025-01-01T10:00:00.500-05:30,"line one\nline two",2001:db8::1,,,,`,
      'a-3,email,marketing,grant,1999-12-31T23:59:59.999Z,Ünïcødé ✓ \u0007bell,,,,,',
      'a-4,email,marketing,confirm,2025-01-01T10:00:00+01:00,"{""json"": [1]}",,,"form\twith tab",,',
    ].join('\n');
    const report = await importConsents(database.pool, file(tricky, 'tricky.csv'), { batchSize: 2 });
    expect(report).to.deep.equal({ imported: 4, rejected: [] });
    await importConsents(database.pool, file(MIXED), { batchSize: 5 });
    await withTransaction(database.pool, (client) => appendConsentEvents(client, [one('withdraw')]));
    const chain = await verifyLedger(database.pool);
    expect(chain).to.not.have.property('broken');
    expect(chain.checked).to.equal(1 + 4 + 11 + 1);
    const { rows } = await database.pool.query(
      `SELECT evidence, notice_hash FROM consent_events WHERE evidence->>'file' = 'tricky.csv' ORDER BY id`,
    );
    expect(rows[0].evidence).to.include({ ip: '203.0.113.5', user_agent: 'Mozilla/5.0 "é" 😀', form: 'footer', row: 2 });
    expect(rows[0].notice_hash).to.equal('a'.repeat(64));
  });

  it('names a NUL in a value by row and keeps the other rows', async () => {
    const report = await importConsents(
      database.pool,
      file(`${HEADER}\na-1,email,marketing,grant,2025-01-01T10:00:00Z,sho\u0000p\na-2,email,marketing,grant,2025-01-01T10:00:00Z,shop`),
    );
    expect(report).to.deep.equal({
      imported: 1,
      rejected: [{ row: 2, reason: 'source holds a NUL character (\\u0000), which no field accepts' }],
    });
  });

  it('suppresses the unattempted queued message of a person whose withdrawal it imports', async () => {
    await importConsents(
      database.pool,
      file(
        `${HEADER}\na-1,email,marketing,grant,2025-01-01T10:00:00Z,form\na-1,email,marketing,confirm,2025-01-01T10:05:00Z,double-opt-in`,
      ),
    );
    const ids = await leadIds(database);
    const message = (key: string, leadId: number) =>
      database.pool.query(
        `INSERT INTO messages (idempotency_key, campaign_id, step_id, occurrence, lead_id, channel, purpose, persona, status)
         VALUES ($1, 'c', 's', '1', $2, 'email', 'marketing', 'everyone-else', 'queued')`,
        [key, leadId],
      );
    await message('withdrawn', ids.get('a-1')!);
    await message('untouched', ids.get('a-2')!);
    const report = await importConsents(
      database.pool,
      file(`${HEADER}\na-2,email,marketing,confirm,2025-01-01T10:00:00Z,form\na-1,email,marketing,withdraw,2025-01-02T10:00:00Z,support`),
    );
    expect(report).to.deep.equal({ imported: 2, rejected: [] });
    const { rows } = await database.pool.query(`SELECT idempotency_key, status, reason FROM messages ORDER BY id`);
    expect(rows).to.deep.equal([
      { idempotency_key: 'withdrawn', status: 'suppressed', reason: 'withdrawn' },
      { idempotency_key: 'untouched', status: 'queued', reason: null },
    ]);
  });

  it('refuses an insert of sealed events that does not extend the chain where it ends', async () => {
    await importConsents(database.pool, file(MIXED));
    const ids = await leadIds(database);
    const insert = (prevHash: string) =>
      database.pool.query(
        `INSERT INTO consent_events (lead_id, channel, purpose, action, source, actor, occurred_at, prev_hash, hash)
         VALUES ($1, 'email', 'marketing', 'grant', 'forged', 'test', now(), $2, $3)`,
        [ids.get('a-1'), prevHash, 'f'.repeat(64)],
      );
    const err = await insert('0'.repeat(64)).catch((e: Error) => e);
    expect(err).to.be.instanceOf(Error).with.property('message').that.contains('does not link to the event before it');
    expect(await verifyLedger(database.pool)).to.not.have.property('broken');
  });

  it('decides the common rows as joi does', () => {
    const values = {
      external_id: ['a-1', ' a-1', '', 'x'.repeat(300)],
      channel: ['email', 'sms', 'fax', 'Email'],
      purpose: ['marketing', 'Marketing', 'news_letter-2', ' marketing'],
      action: ['grant', 'confirm', 'withdraw', 'revoke'],
      occurred_at: ['2025-01-01T10:00:00Z', '2025-01-01T10:00:00.123+02:00', '2025-01-01T10:00:00', '2025-13-01T10:00:00Z', 'now', ''],
      source: ['form', ' form', 'x'.repeat(200), 'x'.repeat(201), ''],
      ip: [undefined, '', '203.0.113.5', 'nope'],
      notice_hash: [undefined, '', 'A'.repeat(64)],
    };
    let common = 0;
    let seed = 7;
    const pick = <T>(list: T[]): T => list[(seed = (seed * 48271) % 2147483647) % list.length]!;
    for (let i = 0; i < 3000; i++) {
      const row: Record<string, string> = {};
      for (const [column, options] of Object.entries(values)) {
        const value = pick(options as (string | undefined)[]);
        if (value !== undefined) row[column] = value;
      }
      if (i % 50 === 0) row.extra = 'x';
      const fast = commonConsentRow(row);
      if (!fast) continue;
      common++;
      const { value, error } = consentRowSchema.validate(row);
      expect(error, JSON.stringify(row)).to.equal(undefined);
      expect(fast, JSON.stringify(row)).to.deep.equal(value);
    }
    expect(common).to.be.greaterThan(10);
  });
});
