import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import Twilio from 'twilio';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { ManualClock } from '../../src/clock.ts';
import { apiKeyFor } from '../helpers/keys.ts';
import { settled, testEngine, type TestEngine } from '../helpers/engine.ts';
import { seedLeads } from '../helpers/seed.ts';
import { startTwilioServer, type TwilioServer } from '../helpers/twilio-server.ts';
import { startWeb, type TestWeb } from '../helpers/web.ts';

const FIXTURE = path.resolve('test/fixtures/sms');

/**
 * Issue 11, item 6: a signed Twilio status callback with error 21610 (the recipient texted STOP to
 * Twilio) withdraws SMS consent. Replayed, it added a withdrawal each time, even after the person
 * had subscribed again; reported for an email's provider id, it withdrew SMS consent. A callback now
 * counts once, and only for an SMS we sent: that message's lead and purpose.
 */
describe('security: replayed and misdirected Twilio status callbacks', function () {
  this.timeout(30_000);
  let twilio: TwilioServer;
  let web: TestWeb;
  let t: TestEngine;
  let dataDir: string;
  let marketer: string;

  beforeEach(async () => {
    twilio = await startTwilioServer();
    web = await startWeb();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-status-'));
    t = await testEngine(
      {
        CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'),
        TEMPLATES_DIR: path.join(FIXTURE, 'templates'),
        TOUCHPOINT_DATA_DIR: dataDir,
        TWILIO_ACCOUNT_SID: twilio.accountSid,
        TWILIO_AUTH_TOKEN: twilio.authToken,
        TWILIO_FROM: '+15005550006',
        TWILIO_API_URL: twilio.url,
        PUBLIC_URL: web.base,
      },
      // Marketing SMS go out 08:00–21:00 in the recipient's time: midday, whenever the suite runs.
      new ManualClock('2026-06-01T12:00:00Z'),
    );
    web.serve(t.engine);
    marketer = await apiKeyFor(t.database, 'marketer');
    await seedLeads(
      t.database,
      [
        {
          id: 'sam',
          email: 'sam@example.com',
          phone: '+4915112345678',
          first: 'Sam',
          locale: null,
          orders: 1,
          tags: ['sms', 'choice'],
          preferred: 'email',
          consent: ['grant', 'confirm'],
          sms: ['grant'],
        },
      ],
      t.engine.clock.now(),
    );
    await t.engine.startDispatcher();
    const set = t.engine.loadCampaigns();
    for (const campaign of ['flash', 'choice']) {
      await t.engine.run(requireCampaign(set, campaign), set, { occurrence: 'o', trigger: 'manual' });
      expect(await settled(t, campaign, 'o')).to.include({ sent: 1 });
    }
  });
  afterEach(async () => {
    await web.close();
    await t.close();
    await twilio.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** A status callback exactly as Twilio signs it (X-Twilio-Signature over our URL and the form). */
  async function statusCallback(params: Record<string, string>): Promise<number> {
    const url = `${web.base}/webhooks/twilio/status`;
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': Twilio.getExpectedTwilioSignature(twilio.authToken, url, params),
      },
      body: new URLSearchParams(params).toString(),
    });
    return res.status;
  }

  const providerId = async (channel: string) =>
    (await t.database.pool.query(`SELECT provider_id FROM messages WHERE channel = $1`, [channel])).rows[0].provider_id as string;
  const smsConsent = async () =>
    (await t.database.pool.query(`SELECT status FROM consent_state WHERE channel = 'sms' AND purpose = 'marketing'`)).rows[0]
      .status as string;
  const withdrawals = async () =>
    (await t.database.pool.query(`SELECT count(*)::int AS n FROM consent_events WHERE source = 'provider-21610'`)).rows[0].n as number;
  const ledgerSize = async () => (await t.database.pool.query(`SELECT count(*)::int AS n FROM consent_events`)).rows[0].n as number;

  it('withdraws once for a 21610 callback replayed any number of times, even after the person subscribed again', async () => {
    const unsubscribed = { MessageSid: await providerId('sms'), MessageStatus: 'undelivered', ErrorCode: '21610' };
    expect(await statusCallback(unsubscribed)).to.equal(204);
    expect(await smsConsent()).to.equal('withdrawn');
    expect(await withdrawals()).to.equal(1);

    const regranted = await fetch(`${web.base}/api/v1/consents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${marketer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ lead: 'sam', channel: 'sms', purpose: 'marketing', action: 'grant', source: 'account-settings' }),
    });
    expect(regranted.status).to.equal(201);
    const size = await ledgerSize();
    for (let i = 0; i < 3; i++) expect(await statusCallback(unsubscribed)).to.equal(204);
    expect(await withdrawals()).to.equal(1);
    expect(await ledgerSize()).to.equal(size);
    expect(await smsConsent()).to.equal('granted');
  });

  it('changes nothing for a 21610 callback naming the provider id of an email', async () => {
    const email = await providerId('email');
    expect(email).to.match(/^outbox:message-\d+\.eml$/);
    const size = await ledgerSize();
    expect(await statusCallback({ MessageSid: email, MessageStatus: 'undelivered', ErrorCode: '21610' })).to.equal(204);
    expect(await smsConsent()).to.equal('granted');
    expect(await ledgerSize()).to.equal(size);
    const { rows } = await t.database.pool.query(`SELECT delivery_status, delivery_error FROM messages WHERE channel = 'email'`);
    expect(rows).to.deep.equal([{ delivery_status: null, delivery_error: null }]);
  });
});
