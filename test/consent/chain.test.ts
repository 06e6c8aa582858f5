import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import fc from 'fast-check';
import { consentAsOf } from '../../src/consent/check.ts';
import { appendConsentEvents, type ConsentEventInput } from '../../src/consent/ledger.ts';
import { LEGACY_CONFIRMED } from '../../src/consent/state.ts';
import { verifyLedger } from '../../src/consent/verify.ts';
import { withTransaction } from '../../src/db/tx.ts';
import { saveLeads } from '../../src/leads/store.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { contactLead } from '../helpers/seed.ts';

const exec = promisify(execFile);
const T0 = Date.parse('2025-01-01T00:00:00Z');
const minute = (m: number) => new Date(T0 + m * 60_000);

describe('tamper-evident consent ledger', function () {
  this.timeout(120_000);
  let t: TestEngine;
  let leadIds: number[];

  beforeEach(async () => {
    t = await testEngine();
    const rows = await saveLeads(
      t.database.pool,
      Array.from({ length: 8 }, (_, i) => contactLead(`l-${i}`, `l${i}@example.com`, `+49151123456${i}0`)),
    );
    leadIds = rows.map((r) => r.id);
  });
  afterEach(() => t.close());

  const event = (
    leadId: number,
    action: ConsentEventInput['action'],
    at: number,
    extra: Partial<ConsentEventInput> = {},
  ): ConsentEventInput => ({
    leadId,
    channel: 'email',
    purpose: 'marketing',
    action,
    source: 'signup-form',
    actor: 'test',
    occurredAt: minute(at),
    evidence: { ip: '203.0.113.7', user_agent: 'Mozilla/5.0', form: 'newsletter-footer' },
    noticeVersion: 'privacy-2026-01',
    noticeHash: 'ab'.repeat(32),
    ...extra,
  });
  const append = (...events: ConsentEventInput[]) => withTransaction(t.database.pool, (client) => appendConsentEvents(client, events));
  const verifyCli = (...args: string[]) =>
    exec(process.execPath, ['bin/touchpoint.js', 'consent', 'verify', ...args], {
      env: { ...process.env, ...t.env, LOG_LEVEL: 'error' },
    }).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
    );

  it('links and seals every event, with its evidence and a keyed hash of the address', async () => {
    const [a, b] = await append(event(leadIds[0]!, 'grant', 1), event(leadIds[0]!, 'confirm', 2));
    const { rows } = await t.database.pool.query(
      `SELECT id, prev_hash, hash, subject_hash, notice_version, evidence FROM consent_events ORDER BY id`,
    );
    expect(rows.map((r) => Number(r.id))).to.deep.equal([a, b]);
    expect(rows[0].prev_hash).to.equal('');
    expect(rows[1].prev_hash).to.equal(rows[0].hash);
    expect(rows[0].hash).to.match(/^[0-9a-f]{64}$/);
    expect(rows[0].subject_hash).to.match(/^[0-9a-f]{64}$/);
    expect(rows[0].subject_hash).not.to.contain('example');
    expect(rows[0].evidence).to.deep.equal({ ip: '203.0.113.7', user_agent: 'Mozilla/5.0', form: 'newsletter-footer' });
    expect(await verifyLedger(t.database.pool)).to.deep.equal({ checked: 2, head: { id: b, hash: rows[1].hash } });
  });

  it('refuses UPDATE, DELETE and TRUNCATE, to the engine’s own connection and to a non-owner role', async () => {
    await append(event(leadIds[0]!, 'grant', 1));
    for (const sql of [`UPDATE consent_events SET action = 'withdraw'`, `DELETE FROM consent_events`, `TRUNCATE consent_events CASCADE`]) {
      const err = await t.database.pool.query(sql).catch((e: Error) => e);
      expect(err, sql).to.be.instanceOf(Error);
      expect((err as Error).message, sql).to.match(/append-only/);
    }
    const client = await t.database.pool.connect();
    try {
      await client.query(
        `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'touchpoint_test_app') THEN CREATE ROLE touchpoint_test_app; END IF; END $$`,
      );
      await client.query(`GRANT SELECT, INSERT ON consent_events TO touchpoint_test_app`);
      await client.query('BEGIN');
      await client.query('SET LOCAL ROLE touchpoint_test_app');
      for (const sql of [`UPDATE consent_events SET action = 'withdraw'`, `DELETE FROM consent_events`, `TRUNCATE consent_events`]) {
        await client.query('SAVEPOINT s');
        const err = await client.query(sql).catch((e: Error) => e);
        expect((err as Error).message, sql).to.match(/permission denied/);
        await client.query('ROLLBACK TO SAVEPOINT s');
      }
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect(await verifyLedger(t.database.pool))
      .to.deep.include({ checked: 1 })
      .and.not.have.property('broken');
  });

  it('after a superuser edit with the trigger disabled, `consent verify` exits non-zero naming that event', async () => {
    const ids = await append(...[1, 2, 3, 4, 5].map((m) => event(leadIds[m % 2]!, m % 2 ? 'grant' : 'confirm', m)));
    expect(await verifyCli()).to.deep.include({ code: 0 });
    const tamper = async (sql: string) => {
      await t.database.pool.query(`ALTER TABLE consent_events DISABLE TRIGGER consent_events_append_only`);
      await t.database.pool.query(sql);
      await t.database.pool.query(`ALTER TABLE consent_events ENABLE TRIGGER consent_events_append_only`);
    };
    await tamper(`UPDATE consent_events SET evidence = '{"ip":"198.51.100.1"}' WHERE id = ${ids[2]}`);
    const edited = await verifyCli();
    expect(edited.code).to.equal(1);
    expect(edited.out).to.contain(`ledger BROKEN at consent event ${ids[2]}: its content does not match its seal`);

    const fresh = await testEngine();
    try {
      const [lead] = await saveLeads(fresh.database.pool, [contactLead('x', 'x@example.com')]);
      const more = await withTransaction(fresh.database.pool, (c) =>
        appendConsentEvents(
          c,
          [1, 2, 3].map((m) => ({ ...event(lead!.id, 'grant', m) })),
        ),
      );
      await fresh.database.pool.query(`ALTER TABLE consent_events DISABLE TRIGGER consent_events_append_only`);
      await fresh.database.pool.query(`DELETE FROM consent_events WHERE id = $1`, [more[1]]);
      expect((await verifyLedger(fresh.database.pool)).broken).to.deep.equal({
        id: more[2],
        reason: 'its link does not match the event before it (an event was removed or reordered)',
      });
    } finally {
      await fresh.close();
    }
  });

  it('catches a chain rewritten after an edit when a seal was recorded outside, via `consent verify --anchor`', async () => {
    const ids = await append(...[1, 2, 3].map((m) => event(leadIds[0]!, 'grant', m)));
    const first = await verifyCli();
    const head = /head: (\d+:[0-9a-f]{64})/.exec(first.out)![1]!;
    expect(head.startsWith(`${ids[2]}:`)).to.equal(true);
    // A superuser edits the first event and recomputes every seal after it: the chain verifies in itself.
    await t.database.pool.query(`ALTER TABLE consent_events DISABLE TRIGGER consent_events_append_only`);
    await t.database.pool.query(`UPDATE consent_events SET action = 'confirm' WHERE id = $1`, [ids[0]]);
    await t.database.pool.query(`DO $$ DECLARE r consent_events; previous text := ''; BEGIN
      FOR r IN SELECT * FROM consent_events ORDER BY id LOOP
        r.prev_hash := previous; r.hash := consent_event_digest(r);
        UPDATE consent_events SET prev_hash = r.prev_hash, hash = r.hash WHERE id = r.id; previous := r.hash;
      END LOOP; END $$`);
    await t.database.pool.query(`ALTER TABLE consent_events ENABLE TRIGGER consent_events_append_only`);
    expect((await verifyCli()).code).to.equal(0);
    const anchored = await verifyCli('--anchor', head);
    expect(anchored.code).to.equal(1);
    expect(anchored.out).to.contain(
      `ledger BROKEN at consent event ${ids[2]}: its seal differs from the one recorded outside the database`,
    );
  });

  it('eight concurrent writers leave a chain that verifies', async () => {
    const rounds = 15;
    await Promise.all(
      leadIds.map(async (leadId, w) => {
        for (let i = 0; i < rounds; i++) {
          const action = (['grant', 'confirm', 'withdraw'] as const)[(i + w) % 3]!;
          // Some appends carry two events, and one writer also writes SMS consent.
          const events = [event(leadId, action, i), ...(i % 4 === 0 ? [event(leadId, 'grant', i, { channel: 'sms' })] : [])];
          await append(...events);
        }
      }),
    );
    const { rows } = await t.database.pool.query(`SELECT count(*)::int AS n FROM consent_events`);
    expect(rows[0].n).to.equal(8 * rounds + 8 * 4);
    expect(await verifyLedger(t.database.pool))
      .to.deep.include({ checked: rows[0].n })
      .and.not.have.property('broken');
  });

  it('answers `check` as of any instant exactly as a simple reference model (property)', async () => {
    type Step = { action: 'grant' | 'confirm' | 'withdraw' | 'legacy'; at: number };
    const stepArb = fc.record({
      action: fc.constantFrom('grant', 'confirm', 'withdraw', 'legacy'),
      at: fc.integer({ min: 0, max: 100 }),
    }) as fc.Arbitrary<Step>;
    let n = 0;
    /** After the last withdrawal: any confirmation confirms, else any grant grants; else withdrawn or nothing. */
    const model = (steps: Step[], at: number, channel: 'email' | 'sms') => {
      const seen = steps
        .map((s, i) => ({ ...s, i }))
        .filter((s) => s.at <= at)
        .sort((a, b) => a.at - b.at || a.i - b.i);
      const lastWithdraw = seen.map((s) => s.action).lastIndexOf('withdraw');
      const after = seen.slice(lastWithdraw + 1);
      const status = after.some((s) => s.action === 'confirm' || s.action === 'legacy')
        ? 'confirmed'
        : after.some((s) => s.action === 'grant')
          ? 'granted'
          : lastWithdraw >= 0
            ? 'withdrawn'
            : 'none';
      return { status, allowed: status === 'confirmed' || (status === 'granted' && channel === 'sms') };
    };
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb, { maxLength: 12 }),
        fc.array(fc.integer({ min: -5, max: 105 }), { minLength: 1, maxLength: 6 }),
        fc.constantFrom('email' as const, 'sms' as const),
        async (steps, instants, channel) => {
          const [lead] = await saveLeads(t.database.pool, [contactLead(`prop-${++n}`, `p${n}@example.com`)]);
          await append(
            ...steps.map((s) => ({
              leadId: lead!.id,
              channel,
              purpose: 'marketing',
              action: s.action === 'legacy' ? ('grant' as const) : s.action,
              source: s.action === 'legacy' ? LEGACY_CONFIRMED : 'form',
              actor: 'test',
              occurredAt: minute(s.at),
            })),
          );
          for (const at of instants) {
            const answer = await consentAsOf(t.database.pool, lead!.id, channel, 'marketing', minute(at));
            const expected = model(steps, at, channel);
            expect({ status: answer.status, allowed: answer.allowed }, `${JSON.stringify(steps)} at ${at}`).to.deep.equal(expected);
          }
        },
      ),
      { numRuns: 150 },
    );
    expect((await verifyLedger(t.database.pool)).broken).to.equal(undefined);
  });
});
