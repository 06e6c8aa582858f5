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
    await seedLeads(t.database, [{ id: 'u-1', email: 'u1@example.com', first: 'Ulla', locale: null, orders: 1, consent: ['grant', 'confirm'] }]);
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
