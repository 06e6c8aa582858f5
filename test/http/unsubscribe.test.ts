import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { expect } from 'chai';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { createApp } from '../../src/http/app.ts';
import { settled, testEngine, type TestEngine } from '../helpers/engine.ts';
import { seedLeads } from '../helpers/seed.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

describe('unsubscribe links in sent email', () => {
  let t: TestEngine;
  let sink: SmtpSink;
  let server: Server;
  let link: string;

  before(async () => {
    sink = await startSmtpSink();
    server = (await import('node:http')).createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    t = await testEngine({ SMTP_URL: sink.url, PUBLIC_URL: `http://127.0.0.1:${port}` });
    server.on('request', createApp(t.engine));
    await seedLeads(t.database, [
      { id: 'u-1', email: 'u1@example.com', first: 'Ulla', locale: null, orders: 1, consent: ['grant', 'confirm'] },
    ]);
    await t.engine.startDispatcher();
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence: 'first', trigger: 'manual' });
    await settled(t, 'spring', 'first');
    await sink.waitFor(1);
    const header = sink.messages[0]!.headerLines.find((h) => h.key === 'list-unsubscribe')!.line;
    link = /<(http[^>]+)>/.exec(header)![1]!;
    expect(sink.messages[0]!.headerLines.find((h) => h.key === 'list-unsubscribe-post')!.line).to.contain('List-Unsubscribe=One-Click');
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    await t.close();
    await sink.close();
  });

  async function status() {
    const { rows } = await t.database.pool.query(`SELECT status FROM consent_state`);
    return rows[0].status;
  }

  it('shows a page on GET and changes nothing', async () => {
    const res = await fetch(link);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-security-policy')).to.contain("default-src 'none'");
    expect(await res.text()).to.contain('<form method="post"');
    expect(await status()).to.equal('confirmed');
  });

  it('refuses a tampered token', async () => {
    const tampered = link.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect((await fetch(tampered, { method: 'POST' })).status).to.equal(404);
    expect(await status()).to.equal('confirmed');
  });

  it('withdraws on a cookieless one-click POST, and the next run leaves the person out', async () => {
    const res = await fetch(link, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(res.status).to.equal(200);
    expect(await status()).to.equal('withdrawn');
    const { rows } = await t.database.pool.query(`SELECT source, actor FROM consent_events ORDER BY id DESC LIMIT 1`);
    expect(rows[0]).to.deep.equal({ source: 'one-click-unsubscribe', actor: 'recipient' });

    const set = t.engine.loadCampaigns();
    const plan = await t.engine.plan(requireCampaign(set, 'spring'), set);
    expect(plan.suppressed).to.deep.equal([{ lead: 'u-1', step: 'offer', reason: 'withdrawn' }]);
  });
});

describe('unsubscribe: the mailto, the preference page, and guessing', function () {
  this.timeout(120_000);
  let t: TestEngine;
  let sink: SmtpSink;
  let server: Server;
  let base: string;

  beforeEach(async () => {
    sink = await startSmtpSink();
    server = (await import('node:http')).createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t = await testEngine({ SMTP_URL: sink.url, PUBLIC_URL: base });
    server.on('request', createApp(t.engine));
    await seedLeads(t.database, [
      { id: 'u-1', email: 'u1@example.com', first: 'Ulla', locale: null, orders: 1, consent: ['grant', 'confirm'], sms: ['grant'] },
      { id: 'u-2', email: 'u2@example.com', first: 'Uwe', locale: null, orders: 1, consent: ['grant', 'confirm'] },
    ]);
    await t.engine.startDispatcher();
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence: 'first', trigger: 'manual' });
    await settled(t, 'spring', 'first');
    await sink.waitFor(2);
  });
  afterEach(async () => {
    await new Promise((r) => server.close(r));
    await t.close();
    await sink.close();
  });

  const header = (i: number) => sink.messages[i]!.headerLines.find((h) => h.key === 'list-unsubscribe')!.line.replace(/\r?\n\s+/g, ' ');
  const link = (i: number) => /<(http[^>]+)>/.exec(header(i))![1]!;
  async function states() {
    const { rows } = await t.database.pool.query(
      `SELECT l.external_id AS lead, s.channel, s.status FROM consent_state s JOIN leads l ON l.id = s.lead_id ORDER BY 1, 2`,
    );
    return rows.map((r) => `${r.lead}/${r.channel}:${r.status}`);
  }

  it('offers an https link and a mailto, and mail to the mailto withdraws', async () => {
    const i = sink.messages.findIndex((m) => m.text?.includes('u-1'));
    expect(header(i)).to.match(/<https?:\/\/[^>]+>, <mailto:unsubscribe\+[0-9a-z]+-[0-9a-f]{20}@127\.0\.0\.1\?subject=unsubscribe>/);
    const mailto = /<mailto:([^?>]+)/.exec(header(i))![1]!;
    const raw = `From: u1@example.com\r\nTo: ${mailto}\r\nSubject: unsubscribe\r\nMessage-ID: <u1-unsub@example.com>\r\n\r\nunsubscribe\r\n`;
    expect(
      await t.engine.receiveReply(await (await import('../../src/inbound/email.ts')).parseInboundEmail(Buffer.from(raw))),
    ).to.deep.equal({ contactId: null, duplicate: false, unsubscribed: true });
    expect(await states()).to.deep.equal(['u-1/email:withdrawn', 'u-1/sms:granted', 'u-2/email:confirmed']);
  });

  it('lets the person withdraw per purpose and channel on the preference page; GET changes nothing', async () => {
    const i = sink.messages.findIndex((m) => m.text?.includes('u-1'));
    const pageHtml = await (await fetch(link(i))).text();
    expect(pageHtml).to.contain('marketing text messages: subscribed');
    expect(await states()).to.deep.equal(['u-1/email:confirmed', 'u-1/sms:granted', 'u-2/email:confirmed']);
    const res = await fetch(`${link(i)}/preferences`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'channel=sms&purpose=marketing',
      redirect: 'manual',
    });
    expect(res.status).to.equal(303);
    expect(await states()).to.deep.equal(['u-1/email:confirmed', 'u-1/sms:withdrawn', 'u-2/email:confirmed']);
    const other = await fetch(`${link(i)}/preferences`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'channel=email&purpose=transactional',
    });
    expect(other.status).to.equal(404);
  });

  it('10,000 random and mutated tokens withdraw nothing; the real one-click POST does, and the next run leaves the person out', async () => {
    const real = link(0);
    const token = real.split('/unsubscribe/')[1]!;
    const [body, signature] = token.split('.') as [string, string];
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const random = (n: number) => Array.from({ length: n }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
    const forged = Array.from({ length: 10_000 }, (_, k) => {
      switch (k % 4) {
        case 0:
          return random(token.length);
        case 1:
          return `${body}.${random(signature.length)}`;
        case 2:
          return `${random(body.length)}.${signature}`;
        default: {
          const at = Math.floor(Math.random() * token.length);
          const c = token[at] === 'A' ? 'B' : 'A';
          return token.slice(0, at) + (token[at] === '.' ? '.' : c) + token.slice(at + 1);
        }
      }
    }).filter((f) => f !== token);
    let refused = 0;
    for (let k = 0; k < forged.length; k += 50) {
      const answers = await Promise.all(
        forged.slice(k, k + 50).map((f) =>
          fetch(`${base}/unsubscribe/${f}`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: 'List-Unsubscribe=One-Click',
          }),
        ),
      );
      for (const a of answers) {
        if (a.status === 404 || a.status === 400) refused++;
        await a.arrayBuffer();
      }
    }
    expect(refused).to.equal(forged.length);
    const { rows } = await t.database.pool.query(`SELECT count(*)::int AS n FROM consent_events WHERE action = 'withdraw'`);
    expect(rows[0].n).to.equal(0);

    const victim = sink.messages[0]!.text!.includes('u-1') ? 'u-1' : 'u-2';
    const res = await fetch(real, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(res.status).to.equal(200);
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence: 'second', trigger: 'manual' });
    await settled(t, 'spring', 'second');
    const { rows: second } = await t.database.pool.query(
      `SELECT l.external_id AS lead, m.status, m.reason FROM messages m JOIN leads l ON l.id = m.lead_id WHERE m.occurrence = 'second' ORDER BY 1`,
    );
    expect(second.find((r) => r.lead === victim)).to.include({ status: 'suppressed', reason: 'withdrawn' });
    expect(second.find((r) => r.lead !== victim)).to.include({ status: 'sent' });
  });
});
