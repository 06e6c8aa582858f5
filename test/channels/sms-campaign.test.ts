import path from 'node:path';
import { expect } from 'chai';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { ManualClock } from '../../src/clock.ts';
import { deliverySummary } from '../../src/messages/report.ts';
import { testEngine, until, type TestEngine } from '../helpers/engine.ts';
import { seedLeads, type SeedLead } from '../helpers/seed.ts';
import { startTwilioServer, type TwilioServer } from '../helpers/twilio-server.ts';

const FIXTURE = path.resolve('test/fixtures/sms');
const VALID = '+4915112345678';

function lead(id: string, phone: string | null, sms: SeedLead['sms'], extra: Partial<SeedLead> = {}): SeedLead {
  return { id, email: null, phone: phone ?? undefined, first: id, locale: null, orders: 1, consent: [], sms, tags: ['sms'], ...extra };
}

describe('SMS campaigns through the twilio SDK', function () {
  this.timeout(60_000);
  let twilio: TwilioServer;
  let t: TestEngine;
  let clock: ManualClock;

  beforeEach(async () => {
    twilio = await startTwilioServer();
    clock = new ManualClock('2026-06-01T12:00:00Z');
    t = await testEngine(
      {
        CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'),
        TEMPLATES_DIR: path.join(FIXTURE, 'templates'),
        TWILIO_ACCOUNT_SID: twilio.accountSid,
        TWILIO_AUTH_TOKEN: twilio.authToken,
        TWILIO_FROM: '+15005550006',
        TWILIO_API_URL: twilio.url,
        DISPATCH_RETRY_BASE_MS: '50',
      },
      clock,
    );
  });
  afterEach(async () => {
    await t.close();
    await twilio.close();
  });

  /** Moves the injected clock along while the dispatcher works, so retries come due. */
  async function settle(campaign: string) {
    return until(async () => {
      clock.advance(1_000);
      const s = await deliverySummary(t.database.pool, campaign, 'o', clock.now());
      return s.queued + s.sending + s.retrying === 0 ? s : undefined;
    });
  }

  it('delivers every consented SMS exactly once through 429 and 500 answers, and none to others', async () => {
    await seedLeads(t.database, [
      lead('ok-1', VALID, ['grant']),
      lead('ok-2', '+4915112345679', ['grant']),
      lead('no-consent', '+4915112345670', []),
      lead('withdrawn', '+4915112345671', ['grant', 'withdraw']),
      lead('bad-number', '12345', ['grant']),
      lead('no-phone', null, ['grant']),
    ]);
    twilio.failNext({ status: 429, code: 20429, message: 'Too Many Requests' }, { status: 500, code: 20500, message: 'Internal Server Error' });
    await t.engine.startDispatcher();
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'flash'), set, { occurrence: 'o', trigger: 'manual' });
    const summary = await settle('flash');

    expect(summary).to.include({ sent: 2, failed: 0, suppressed: 4 });
    expect(summary.reasons).to.deep.equal({ no_consent: 1, withdrawn: 1, invalid_address: 1, no_address: 1 });
    expect(twilio.messages.map((m) => m.to).sort()).to.deep.equal(['+4915112345678', '+4915112345679']);
    expect(twilio.messages[0]!.body).to.match(/^Flash sale, ok-\d: 20% off today\. Reply STOP to opt out$/);
    const { rows } = await t.database.pool.query(`SELECT provider_id, attempts FROM messages WHERE status = 'sent' ORDER BY id`);
    expect(rows.map((r) => r.provider_id).sort()).to.deep.equal(twilio.messages.map((m) => m.sid).sort());
    expect(rows.reduce((n, r) => n + r.attempts, 0)).to.equal(4);
  });

  it('keeps marketing SMS inside 08:00–21:00 local time', async () => {
    await seedLeads(t.database, [lead('tokyo', VALID, ['grant'], { timezone: 'Asia/Tokyo' })]);
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'flash'), set, { occurrence: 'o', trigger: 'manual' });
    const { rows } = await t.database.pool.query(`SELECT due_at FROM messages`);
    // 12:00Z is 21:00 in Tokyo: the message waits for 08:00 there (23:00Z).
    expect(rows[0].due_at.toISOString()).to.equal('2026-06-01T23:00:00.000Z');
  });

  it('uses the preferred channel when it can, else the other one', async () => {
    const choice = (id: string, extra: Partial<SeedLead>) => lead(id, VALID, ['grant'], { tags: ['choice'], email: `${id}@example.com`, consent: ['grant', 'confirm'], ...extra });
    await seedLeads(t.database, [
      choice('wants-sms', { preferred: 'sms' }),
      choice('wants-email', { preferred: 'email' }),
      choice('sms-but-no-consent', { preferred: 'sms', sms: [] }),
      choice('nothing', { preferred: 'sms', sms: [], consent: [] }),
    ]);
    const set = t.engine.loadCampaigns();
    const plan = await t.engine.plan(requireCampaign(set, 'choice'), set);
    expect(plan.recipients.map((r) => [r.lead, r.channel])).to.deep.equal([
      ['wants-sms', 'sms'],
      ['wants-email', 'email'],
      ['sms-but-no-consent', 'email'],
    ]);
    expect(plan.suppressed).to.deep.equal([{ lead: 'nothing', step: 'only', reason: 'no_consent' }]);
  });
});
