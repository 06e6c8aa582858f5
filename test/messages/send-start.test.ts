import { expect } from 'chai';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { ManualClock } from '../../src/clock.ts';
import { consentAsOf } from '../../src/consent/check.ts';
import { recordSent, startSends } from '../../src/messages/attempt.ts';
import { claimDueMessages, releaseClaims } from '../../src/messages/claim.ts';
import { settled, testEngine, until, type TestEngine } from '../helpers/engine.ts';
import { confirmedLeads, seedLeads } from '../helpers/seed.ts';
import { recipient, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

interface Row {
  id: number;
  lead_id: number;
  status: string;
  reason: string | null;
  consent_event_id: number | null;
  sent_at: Date | null;
  attempted_at: Date | null;
  email: string;
}

async function rows(t: TestEngine): Promise<Row[]> {
  const { rows } = await t.database.pool.query<Row>(
    `SELECT m.id, m.lead_id, m.status, m.reason, m.consent_event_id, m.sent_at, m.attempted_at, l.email
       FROM messages m JOIN leads l ON l.id = m.lead_id ORDER BY m.id`,
  );
  return rows;
}

describe('consent at the moment a send starts', function () {
  this.timeout(60_000);

  describe('with a dispatcher at work', () => {
    let t: TestEngine;
    let sink: SmtpSink;

    before(async () => {
      // One slow lane and a large claim: most claimed messages wait in memory while one is sent.
      sink = await startSmtpSink({ delayMs: 150 });
      t = await testEngine({ SMTP_URL: sink.url, DISPATCH_CONCURRENCY: '1', DISPATCH_BATCH_SIZE: '30' });
      await seedLeads(t.database, confirmedLeads(30, 'w'));
    });
    after(async () => {
      await t.close();
      await sink.close();
    });

    it('stops a claimed message whose person withdraws before its send starts; the row says withdrawn', async () => {
      const set = t.engine.loadCampaigns();
      await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence: 'claimed', trigger: 'manual' });
      await t.engine.startDispatcher();
      // Claimed, not started: what used to go out on the strength of the consent read at the claim.
      const waiting = await until(async () => {
        const claimed = (await rows(t)).filter((r) => r.status === 'sending' && r.attempted_at === null);
        return claimed.length >= 10 ? claimed : undefined;
      });
      const answered = new Map<number, number>();
      await Promise.all(
        waiting.map(async (row) => {
          await t.engine.consent.record({
            leadId: row.lead_id,
            channel: 'email',
            purpose: 'marketing',
            action: 'withdraw',
            source: 'test',
            actor: 'test',
          });
          answered.set(row.id, Date.now());
        }),
      );
      await settled(t, 'spring', 'claimed', 30_000);

      const after = new Map((await rows(t)).map((r) => [r.id, r]));
      const delivered = new Set(sink.messages.map(recipient));
      const stopped = waiting.filter(({ id }) => after.get(id)!.status === 'suppressed');
      for (const { id, email } of stopped) {
        expect(after.get(id), email).to.include({ reason: 'withdrawn', consent_event_id: null });
        expect(delivered.has(email), email).to.equal(false);
      }
      // The one lane may have started one or two of them while the withdrawals were on their way.
      expect(stopped.length).to.be.at.least(waiting.length - 2);
      for (const { id } of waiting.filter((w) => !stopped.includes(w))) {
        expect(after.get(id)!.attempted_at!.getTime()).to.be.below(answered.get(id)!);
      }
      // Every sent message names the consent the ledger says was in force when its send started.
      for (const row of [...after.values()].filter((r) => r.status === 'sent')) {
        expect(row.sent_at!.getTime()).to.equal(row.attempted_at!.getTime());
        const asOf = await consentAsOf(t.database.pool, row.lead_id, 'email', 'marketing', row.sent_at!);
        expect(asOf.allowed, row.email).to.equal(true);
        expect(asOf.deciding_event!.id, row.email).to.equal(row.consent_event_id);
      }
    });
  });

  describe('statement by statement', () => {
    const clock = new ManualClock('2026-05-04T10:00:00.000Z');
    let t: TestEngine;

    beforeEach(async () => {
      t = await testEngine({}, clock);
      await seedLeads(t.database, confirmedLeads(2, 's'), clock.now());
      const set = t.engine.loadCampaigns();
      await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence: 'statements', trigger: 'manual' });
    });
    afterEach(() => t.close());

    /** Withdraws a person's email marketing consent through the engine; returns the event's id. */
    const withdraw = async (leadId: number) =>
      (await t.engine.consent.record({ leadId, channel: 'email', purpose: 'marketing', action: 'withdraw', source: 'test', actor: 'test' }))
        .event;
    /** The instant the ledger gives a consent event. */
    const occurredAt = async (event: number) =>
      (await t.database.pool.query<{ occurred_at: Date }>(`SELECT occurred_at FROM consent_events WHERE id = $1`, [event])).rows[0]!
        .occurred_at;

    it('leaves a started send alone, and dates a withdrawal made meanwhile after the start', async () => {
      const [message] = await claimDueMessages(t.database.pool, 7, 1, clock.now());
      // The withdrawal is asked for at 10:00:00.000, the send starts at 10:00:00.250 and the
      // withdrawal commits after that.
      const asked = clock.now();
      clock.advance(250);
      const startedAt = clock.now();
      expect(await startSends(t.database.pool, 7, [message!.id], startedAt)).to.deep.equal([{ go: true, attempts: 1 }]);
      clock.set(asked);
      const event = await withdraw(message!.leadId);
      await recordSent(t.database.pool, 7, [{ id: message!.id, startedAt, providerId: '<p@test>' }]);

      const row = (await rows(t)).find((r) => r.id === message!.id)!;
      expect(row).to.include({ status: 'sent' });
      expect(row.sent_at!.toISOString()).to.equal('2026-05-04T10:00:00.250Z');
      expect((await occurredAt(event)).toISOString()).to.equal('2026-05-04T10:00:00.251Z');
      const asOf = await consentAsOf(t.database.pool, row.lead_id, 'email', 'marketing', row.sent_at!);
      expect(asOf).to.include({ allowed: true });
      expect(asOf.deciding_event!.id).to.equal(row.consent_event_id);
    });

    it('keeps a withdrawal’s own instant when no send of its key started after it', async () => {
      const [message] = await claimDueMessages(t.database.pool, 7, 2, clock.now());
      const event = await withdraw(message!.leadId);
      expect((await occurredAt(event)).toISOString()).to.equal(clock.now().toISOString());
      // Claimed but not started: the withdrawal stopped it, and its start finds nothing to send.
      expect(await startSends(t.database.pool, 7, [message!.id], clock.now())).to.deep.equal([{ go: false, status: 'gone' }]);
      expect((await rows(t)).find((r) => r.id === message!.id)).to.include({ status: 'suppressed', reason: 'withdrawn' });
    });

    it('counts only sends that started: a claim handed back costs no attempt', async () => {
      const claimed = await claimDueMessages(t.database.pool, 7, 2, clock.now());
      expect(claimed.map((m) => m.attempts)).to.deep.equal([0, 0]);
      await releaseClaims(
        t.database.pool,
        7,
        claimed.map((m) => m.id),
      );
      const again = await claimDueMessages(t.database.pool, 8, 2, clock.now());
      expect(again.map((m) => m.attempts)).to.deep.equal([0, 0]);
      const starts = await startSends(
        t.database.pool,
        8,
        again.map((m) => m.id),
        clock.now(),
      );
      expect(starts).to.deep.equal([
        { go: true, attempts: 1 },
        { go: true, attempts: 1 },
      ]);
      // Another dispatcher's start finds nothing of its own.
      expect(await startSends(t.database.pool, 7, [again[0]!.id], clock.now())).to.deep.equal([{ go: false, status: 'gone' }]);
    });
  });
});
