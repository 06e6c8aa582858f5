import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { expect } from 'chai';
import Twilio from 'twilio';
import { createApp } from '../../src/http/app.ts';
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
  let web: Server;
  let publicUrl: string;

  beforeEach(async () => {
    twilio = await startTwilioServer();
    web = createServer();
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    publicUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
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
        PUBLIC_URL: publicUrl,
      },
      clock,
    );
    web.on('request', createApp(t.engine));
  });
  afterEach(async () => {
    await new Promise((r) => web.close(r));
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
    twilio.failNext(
      { status: 429, code: 20429, message: 'Too Many Requests' },
      { status: 500, code: 20500, message: 'Internal Server Error' },
    );
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
    const choice = (id: string, extra: Partial<SeedLead>) =>
      lead(id, VALID, ['grant'], { tags: ['choice'], email: `${id}@example.com`, consent: ['grant', 'confirm'], ...extra });
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

  it('plan counts the segments each SMS costs and the total', async () => {
    await seedLeads(
      t.database,
      [
        lead('plain', VALID, ['grant']),
        lead('accent', '+4915112345679', ['grant'], { first: 'Zoë' }),
        lead('long', '+4915112345670', ['grant'], { first: 'Maximilian'.repeat(12) }),
      ],
      clock.now(),
    );
    const set = t.engine.loadCampaigns();
    const plan = await t.engine.plan(requireCampaign(set, 'flash'), set);
    expect(plan.recipients.map((r) => [r.lead, r.encoding, r.segments])).to.deep.equal([
      ['plain', 'GSM-7', 1],
      ['accent', 'UCS-2', 1],
      ['long', 'GSM-7', 2],
    ]);
    expect(plan.sms).to.deep.equal({ messages: 3, segments: 4 });
  });

  async function smsConsent(lead: string) {
    const { rows } = await t.database.pool.query(
      `SELECT s.status FROM consent_state s JOIN leads l ON l.id = s.lead_id WHERE l.external_id = $1 AND s.channel = 'sms'`,
      [lead],
    );
    return rows[0]?.status;
  }

  async function runFlash(leads: SeedLead[]) {
    await seedLeads(t.database, leads, clock.now());
    await t.engine.startDispatcher();
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'flash'), set, { occurrence: 'o', trigger: 'manual' });
    return settle('flash');
  }

  it('records status callbacks signed by Twilio; 21610 there withdraws SMS consent', async () => {
    const summary = await runFlash([lead('ok-1', VALID, ['grant'])]);
    expect(summary.sent).to.equal(1);
    const sent = twilio.messages[0]!;
    expect(sent.statusCallback).to.equal(`${publicUrl}/webhooks/twilio/status`);

    const report = async (params: Record<string, string>, signed = true) => {
      const signature = signed ? Twilio.getExpectedTwilioSignature(twilio.authToken, sent.statusCallback!, params) : 'bm9wZQ==';
      const res = await fetch(sent.statusCallback!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
        body: new URLSearchParams(params).toString(),
      });
      return res.status;
    };
    const delivery = async () => (await t.database.pool.query(`SELECT delivery_status, delivery_error FROM messages`)).rows[0];

    expect(await report({ MessageSid: sent.sid, MessageStatus: 'delivered' }, false)).to.equal(403);
    expect(await delivery()).to.deep.equal({ delivery_status: null, delivery_error: null });
    expect(await report({ MessageSid: sent.sid, MessageStatus: 'delivered' })).to.equal(204);
    expect(await delivery()).to.deep.equal({ delivery_status: 'delivered', delivery_error: null });
    expect(await smsConsent('ok-1')).to.equal('granted');

    expect(await report({ MessageSid: sent.sid, MessageStatus: 'undelivered', ErrorCode: '21610' })).to.equal(204);
    expect(await delivery()).to.deep.equal({ delivery_status: 'undelivered', delivery_error: '21610' });
    expect(await smsConsent('ok-1')).to.equal('withdrawn');
    expect(await report({ MessageSid: 'SM-unknown', MessageStatus: 'delivered' })).to.equal(204);
  });

  it('records 21211 and 21610 answers as permanent failures; 21610 also withdraws SMS consent', async () => {
    twilio.failNext({ status: 400, code: 21610, message: 'Attempt to send to unsubscribed recipient' });
    const first = await runFlash([lead('unsubscribed', VALID, ['grant'])]);
    expect(first).to.include({ sent: 0, failed: 1 });
    expect(await smsConsent('unsubscribed')).to.equal('withdrawn');
    const { rows } = await t.database.pool.query(
      `SELECT e.source, e.actor FROM consent_events e JOIN leads l ON l.id = e.lead_id WHERE l.external_id = 'unsubscribed' AND e.action = 'withdraw'`,
    );
    expect(rows).to.deep.equal([{ source: 'provider-21610', actor: 'twilio' }]);

    twilio.failNext({ status: 400, code: 21211, message: "The 'To' number is not a valid phone number." });
    await seedLeads(t.database, [lead('invalid-upstream', '+4915112345679', ['grant'])], clock.now());
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'flash'), set, { occurrence: 'o2', trigger: 'manual' });
    const second = await until(async () => {
      clock.advance(1_000);
      const s = await deliverySummary(t.database.pool, 'flash', 'o2', clock.now());
      return s.queued + s.sending + s.retrying === 0 ? s : undefined;
    });
    expect(second).to.include({ sent: 0, failed: 1 });
    const failed = await t.database.pool.query(`SELECT last_error, attempts FROM messages WHERE occurrence = 'o2' AND status = 'failed'`);
    expect(failed.rows[0].last_error).to.contain('21211');
    expect(failed.rows[0].attempts).to.equal(1);
    expect(await smsConsent('invalid-upstream')).to.equal('granted');
    expect(twilio.messages).to.deep.equal([]);
  });
});
