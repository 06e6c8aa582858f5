import path from 'node:path';
import { expect } from 'chai';
import type { AddressObject } from 'mailparser';
import type { Page } from 'playwright-core';
import { saveUser } from '../../src/access/users.ts';
import { submitSignIn, useBrowser } from '../helpers/browser.ts';
import { sendFollowupToAlice, startInboundApp, type InboundApp } from '../helpers/inbound-app.ts';
import { deliverMail, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const PASSWORD = 'correct horse battery';

/**
 * The desk as a service person works it in a real browser: ann serves retention only. Alice's
 * reply (a campaign reply, retention) and a stranger's (general, gus's queue) share a word; ann's
 * search finds Alice's by a word of it, stemmed, and never the stranger's. She notes something for
 * the team and answers with a canned answer she edits, which arrives at the SMTP server.
 */
describe('the desk in headless Chromium: search, notes, canned answers', function () {
  this.timeout(90_000);
  const browser = useBrowser();
  let sink: SmtpSink;
  let app: InboundApp;

  before(async () => {
    sink = await startSmtpSink();
    app = await startInboundApp({
      CAMPAIGNS_DIR: path.resolve('test/fixtures/desk/campaigns'),
      TEMPLATES_DIR: path.resolve('test/fixtures/inbound/templates'),
      SMTP_URL: sink.url,
    });
    const { t, inbound, domain } = app;
    for (const [email, name] of [
      ['ann@example.com', 'Ann Agent'],
      ['gus@example.com', 'Gus'],
    ])
      await saveUser(t.database.pool, { email: email!, name, role: 'service', password: PASSWORD });
    await sendFollowupToAlice(t, sink);
    const replyTo = (sink.messages[0]!.replyTo as AddressObject).value[0]!.address!;
    await deliverMail(inbound.port, {
      from: 'alice@example.com',
      to: replyTo,
      subject: 'Re: An offer for Alice',
      text: 'The parcel with my shoes never arrived. Tracking says the deliveries stopped.',
    });
    await deliverMail(inbound.port, {
      from: 'stranger@example.org',
      to: `hello@${domain}`,
      subject: 'Parcel',
      text: 'Where is my parcel? My deliveries never come. (general queue, not for ann)',
    });
  });
  after(async () => {
    await app?.close();
    await sink?.close();
  });

  async function signIn(page: Page) {
    await page.goto(`${app.web.base}/inbox`);
    await submitSignIn(page, 'ann@example.com', PASSWORD, `${app.web.base}/inbox`);
  }

  async function search(page: Page, words: string): Promise<string[]> {
    await page.fill('#q', words);
    await page.click('#search button');
    await page.waitForURL(/\/inbox\?q=/);
    return page.locator('tr[data-contact]').allInnerTexts();
  }

  /** Signs in as ann and opens Alice's reply from a search, as she would. */
  async function openAlicesReply(page: Page) {
    await signIn(page);
    await search(page, 'parcel');
    await page.locator('tr[data-contact] a').click();
    await page.waitForURL(/\/inbox\/\d+$/);
  }

  it('search finds a reply by a word in it, stemmed, and never one outside her reach', async () => {
    const page = await browser().newPage();
    try {
      await signIn(page);
      // "delivery" matches "deliveries" through the English stem; the stranger's reply has it too, but is not hers.
      for (const words of ['parcel', 'delivery', 'shoes', '"parcel with my shoes"']) {
        const rows = await search(page, words);
        expect(rows, words).to.have.length(1);
        expect(rows[0], words).to.contain('alice');
        expect(await page.content(), words).not.to.contain('stranger@example.org');
      }
      expect(await search(page, 'general queue')).to.deep.equal([]);
      expect(await page.locator('main').innerText()).to.contain('No reply you can see has these words.');
      // Query syntax and markup are words like any other: no error, nothing injected.
      for (const hostile of ["parcel' OR '1'='1", '!!:*&|(<script>)', '<img src=x onerror=alert(1)>']) {
        const response = await page.goto(`${app.web.base}/inbox?q=${encodeURIComponent(hostile)}`);
        expect(response!.status(), hostile).to.equal(200);
        expect(await page.locator('img, script').count(), hostile).to.equal(0);
        expect(await page.content()).not.to.contain('stranger@example.org');
      }
    } finally {
      await page.close();
    }
  });

  it('adds a note the team sees on the contact, as text, and that goes to nobody outside', async () => {
    const page = await browser().newPage();
    try {
      await openAlicesReply(page);
      await page.fill('#note-text', 'Called the carrier: lost in Kassel. <b>refund</b> approved.');
      await page.click('text=Add note');
      await page.waitForURL(/done=noted/);
      const note = page.locator('[data-note]');
      expect(await note.count()).to.equal(1);
      expect(await note.innerText()).to.contain('user:ann@example.com');
      expect(await note.innerText()).to.contain('Called the carrier: lost in Kassel. <b>refund</b> approved.');
      expect(await note.locator('b').count()).to.equal(0);
    } finally {
      await page.close();
    }
    const { rows } = await app.t.database.pool.query(`SELECT count(*)::int AS n FROM messages WHERE body_text LIKE '%Kassel%'`);
    expect(rows[0].n).to.equal(0);
  });

  it('sends a canned answer, edited first, and it arrives at the SMTP server', async () => {
    const page = await browser().newPage();
    try {
      await openAlicesReply(page);
      await page.selectOption('#canned-name', 'thanks');
      await page.click('#canned button');
      await page.waitForURL(/canned=thanks/);
      const draft = await page.inputValue('#reply-text');
      expect(draft).to.match(/^Hi Alice,/);
      expect(draft).to.contain('Ann Agent');
      await page.fill('#reply-text', draft.replace('shortly', 'by Friday'));
      await page.click('text=Send reply');
      await page.waitForURL(/done=replied/);
    } finally {
      await page.close();
    }
    const answer = await sink.waitFor(2).then(() => sink.messages[1]!);
    expect((answer.to as AddressObject).value[0]!.address).to.equal('alice@example.com');
    expect(answer.text).to.contain('Hi Alice,');
    expect(answer.text).to.contain('get back to you by Friday');
    expect(answer.text).to.contain('Ann Agent');
    expect(answer.text).not.to.contain('Kassel');
  });
});
