import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { expect } from 'chai';
import twilio from 'twilio';
import { createApp } from '../../src/http/app.ts';
import { en } from '../../src/render/locales/en.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { seedLeads } from '../helpers/seed.ts';

const TOKEN = 'f'.repeat(32);
const PHONE = '+4915112345678';

describe('Twilio inbound SMS webhook', () => {
  let t: TestEngine;
  let server: Server;
  let base: string;
  let sid = 0;

  beforeEach(async () => {
    server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t = await testEngine({
      CAMPAIGNS_DIR: path.resolve('test/fixtures/sms/campaigns'),
      TEMPLATES_DIR: path.resolve('test/fixtures/sms/templates'),
      PUBLIC_URL: base,
      TWILIO_ACCOUNT_SID: `AC${'a'.repeat(32)}`,
      TWILIO_AUTH_TOKEN: TOKEN,
      TWILIO_FROM: '+15005550006',
    });
    server.on('request', createApp(t.engine));
    await seedLeads(t.database, [
      { id: 'texter', email: null, phone: PHONE, first: 'Tex', locale: null, orders: 1, consent: [], sms: ['grant'] },
    ]);
  });
  afterEach(async () => {
    await new Promise((r) => server.close(r));
    await t.close();
  });

  async function post(params: Record<string, string>, sign: 'valid' | 'none' | 'wrong' = 'valid') {
    const url = `${base}/webhooks/twilio/sms`;
    const signature = sign === 'valid' ? twilio.getExpectedTwilioSignature(TOKEN, url, params) : sign === 'wrong' ? 'bm9wZQ==' : undefined;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature ? { 'x-twilio-signature': signature } : {}) },
      body: new URLSearchParams(params).toString(),
    });
    return { status: res.status, text: await res.text() };
  }

  const inbound = (body: string, extra: Record<string, string> = {}) => ({
    MessageSid: `SM${String(++sid).padStart(32, '0')}`,
    From: PHONE,
    To: '+15005550006',
    Body: body,
    ...extra,
  });

  async function ledger() {
    const { rows } = await t.database.pool.query(
      `SELECT action, source FROM consent_events WHERE channel = 'sms' AND source = 'sms-keyword' ORDER BY id`,
    );
    return rows.map((r) => r.action);
  }

  it('maps keyword texts to ledger events and one confirmation each', async () => {
    const table: [string, Record<string, string>, string[], string | undefined][] = [
      [' Stop ', {}, ['withdraw'], en.sms.optOut],
      ['start', {}, ['grant'], en.sms.optIn],
      ['stopall', {}, ['withdraw'], en.sms.optOut],
      ['UNSUBSCRIBE', {}, ['withdraw'], en.sms.optOut],
      ['START', { OptOutType: 'START' }, ['grant'], undefined],
      ['help', {}, [], 'Reply STOP to unsubscribe, START to subscribe again.'],
      ['please stop', {}, [], undefined],
      ['Stop it now', { OptOutType: 'STOP' }, ['withdraw'], undefined],
    ];
    let expected: string[] = [];
    for (const [text, extra, events, reply] of table) {
      const res = await post(inbound(text, extra));
      expect(res.status, text).to.equal(200);
      const message = /<Message>(.*)<\/Message>/.exec(res.text)?.[1];
      expect(message, text).to.equal(reply);
      expected = [...expected, ...events];
      expect(await ledger(), text).to.deep.equal(expected);
    }
    const { rows } = await t.database.pool.query(`SELECT status FROM consent_state WHERE channel = 'sms'`);
    expect(rows).to.deep.equal([{ status: 'withdrawn' }]);
  });

  it('refuses unsigned and wrongly signed requests, and ignores a replayed MessageSid', async () => {
    const stop = inbound('STOP');
    expect((await post(stop, 'none')).status).to.equal(403);
    expect((await post(stop, 'wrong')).status).to.equal(403);
    expect(await ledger()).to.deep.equal([]);
    const first = await post(stop);
    const replay = await post(stop);
    expect(first.text).to.contain('<Message>');
    expect(replay.status).to.equal(200);
    expect(replay.text).not.to.contain('<Message>');
    expect(await ledger()).to.deep.equal(['withdraw']);
  });
});
