import type { Agenda } from 'agenda';
import { expect } from 'chai';
import { parseInboundEmail } from '../../src/inbound/email.ts';
import type { Campaign } from '../../src/campaigns/types.ts';
import { atInstant, scheduledOccurrence } from '../../src/scheduler/schedule.ts';
import { deliverySummary, isSettled } from '../../src/messages/report.ts';
import { testEngine, until, type TestEngine } from '../helpers/engine.ts';
import { seedLeads } from '../helpers/seed.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';
import { INBOUND_ESCALATE, registerSchedules } from '../../src/scheduler/agenda.ts';

function campaign(schedule: Campaign['schedule']): Campaign {
  return { id: 'c', name: 'c', kind: 'lead', purpose: 'marketing', audience: {}, schedule, steps: [], file: '/c.yaml' };
}

describe('schedules', () => {
  it('reads `at` in the campaign timezone, across a DST change', () => {
    expect(atInstant(campaign({ at: '2026-12-01T09:00', timezone: 'Europe/Berlin' }))!.toISOString()).to.equal('2026-12-01T08:00:00.000Z');
    expect(atInstant(campaign({ at: '2026-07-01T09:00', timezone: 'Europe/Berlin' }))!.toISOString()).to.equal('2026-07-01T07:00:00.000Z');
    expect(atInstant(campaign({ at: '2026-07-01T09:00' }))!.toISOString()).to.equal('2026-07-01T09:00:00.000Z');
  });

  it('gives every firing of a cron campaign one occurrence, however late the job runs', () => {
    const daily = campaign({ cron: '0 9 * * *', timezone: 'America/New_York' });
    expect(scheduledOccurrence(daily, new Date('2026-03-10T13:00:00Z'))).to.equal('cron:2026-03-10T13:00:00.000Z');
    expect(scheduledOccurrence(daily, new Date('2026-03-10T15:30:00Z'))).to.equal('cron:2026-03-10T13:00:00.000Z');
    // After the US switch to summer time 09:00 local is 13:00Z; the day before it was 14:00Z.
    expect(scheduledOccurrence(daily, new Date('2026-03-07T14:10:00Z'))).to.equal('cron:2026-03-07T14:00:00.000Z');
  });

  describe('with Agenda', function () {
    this.timeout(60_000);
    let t: TestEngine;
    let sink: SmtpSink;
    let agenda: Agenda;
    before(async () => {
      sink = await startSmtpSink();
      t = await testEngine({ SMTP_URL: sink.url, CAMPAIGNS_DIR: 'test/fixtures/scheduled/campaigns' });
      await seedLeads(t.database, [
        { id: 's-1', email: 's1@example.com', first: 'Sam', locale: null, orders: 1, consent: ['grant', 'confirm'] },
      ]);
    });
    after(async () => {
      await t.close();
      await sink.close();
    });

    it('runs a past `at` campaign once, and registering again at the next start runs nothing more', async () => {
      await t.engine.startDispatcher();
      agenda = await t.engine.startScheduler();
      const summary = await until(async () => {
        const s = await deliverySummary(t.database.pool, 'launch', 'once', new Date());
        return s.sent === 1 && isSettled(s) ? s : undefined;
      });
      expect(summary).to.include({ sent: 1 });
      await registerSchedules(agenda, t.engine.loadCampaigns().campaigns.values());
      await new Promise((r) => setTimeout(r, 1500));
      const { rows } = await t.database.pool.query(`SELECT count(*)::int AS n FROM campaign_runs WHERE campaign_id = 'launch'`);
      expect(rows[0].n).to.equal(1);
      expect(sink.messages).to.have.length(1);
    });

    it('escalates overdue inbound contacts from its periodic job', async () => {
      const reply = await parseInboundEmail(
        Buffer.from('From: s1@example.com\r\nTo: hello@touchpoint.test\r\nSubject: Hi\r\nMessage-ID: <late@x>\r\n\r\nAnyone?\r\n'),
      );
      const { contactId } = await t.engine.receiveReply(reply);
      await t.database.pool.query(`UPDATE inbound_contacts SET due_at = now() - interval '1 minute' WHERE id = $1`, [contactId]);
      // The job runs every minute; have Agenda run it now rather than wait.
      await agenda.now(INBOUND_ESCALATE, {});
      const at = await until(
        async () =>
          (await t.database.pool.query(`SELECT escalated_at FROM inbound_contacts WHERE id = $1`, [contactId])).rows[0].escalated_at ??
          undefined,
      );
      expect(at).to.be.instanceOf(Date);
      const { rows } = await t.database.pool.query(
        `SELECT action, actor FROM inbound_contact_events WHERE contact_id = $1 AND action = 'escalated'`,
        [contactId],
      );
      expect(rows).to.deep.equal([{ action: 'escalated', actor: 'system' }]);
    });
  });
});
