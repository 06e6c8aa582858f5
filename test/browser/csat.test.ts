import { expect } from 'chai';
import { saveUser } from '../../src/access/users.ts';
import { csatUrlFor } from '../../src/campaigns/compose.ts';
import { submitSignIn, useBrowser } from '../helpers/browser.ts';
import { useServedEngine } from '../helpers/web.ts';
import { seedLeads } from '../helpers/seed.ts';

describe('the satisfaction survey page in headless Chromium', function () {
  this.timeout(60_000);
  const browser = useBrowser();
  const served = useServedEngine();
  let contactId: number;
  let leadId: number;

  before(async () => {
    const { t } = served();
    await seedLeads(t.database, [{ id: 'ida', email: 'ida@example.com', first: 'Ida', locale: 'de-DE', orders: 1, consent: [] }]);
    const received = await t.engine.receiveReply({
      channel: 'email',
      externalId: '<question-1@example.com>',
      kind: 'human',
      from: 'ida@example.com',
      subject: 'Lieferung',
      bodyText: 'Wann kommt meine Lieferung?',
      text: 'Wann kommt meine Lieferung?',
    });
    contactId = received.contactId!;
    leadId = (await t.engine.leads.find('ida'))!.id;
  });

  it('answers with one tap, without signing in, in the person’s language; a second tap replaces the answer', async () => {
    const { t, web } = served();
    const link = csatUrlFor({ publicUrl: web.base, secret: t.engine.secret }, contactId, leadId);
    const page = await browser().newPage();
    try {
      const shown = await page.goto(link);
      expect(shown!.status()).to.equal(200);
      expect(await page.locator('h1').textContent()).to.equal('Wie zufrieden sind Sie?');
      expect(await page.locator('button[name="score"]').allTextContents()).to.deep.equal(['1', '2', '3', '4', '5']);
      await page.locator('button[value="4"]').click();
      await page.waitForSelector('[role="status"]');
      expect(await page.locator('[role="status"]').textContent()).to.contain('Sie haben 4 von 5 gewählt');
      await page.locator('button[value="5"]').click();
      await page.waitForSelector('[role="status"]:has-text("5 von 5")');
    } finally {
      await page.close();
    }
    const { rows } = await t.database.pool.query(`SELECT score, via, version FROM csat_answers WHERE contact_id = $1`, [contactId]);
    expect(rows).to.deep.equal([{ score: 5, via: 'link', version: 2 }]);
  });

  it('refuses a forged or altered link with 400 and a page that says so, and records nothing', async () => {
    const { t, web } = served();
    const link = csatUrlFor({ publicUrl: web.base, secret: t.engine.secret }, contactId, leadId);
    const [body, signature] = link.split('/csat/')[1]!.split('.');
    const forgedBody = Buffer.from(JSON.stringify({ kind: 'csat', contact: contactId + 1, lead: leadId })).toString('base64url');
    const page = await browser().newPage();
    try {
      for (const forged of [`${web.base}/csat/${forgedBody}.${signature}`, `${web.base}/csat/${body}.${signature!.slice(1)}x`]) {
        const shown = await page.goto(forged);
        expect(shown!.status(), forged).to.equal(400);
        expect(await page.locator('h1').textContent()).to.equal('This survey link is not valid');
        expect(await page.locator('button').count()).to.equal(0);
      }
    } finally {
      await page.close();
    }
    const { rows } = await t.database.pool.query(`SELECT count(*)::int AS n FROM csat_answers`);
    expect(rows[0].n).to.equal(1);
  });

  it('the contact page shows the reply’s sentiment and answer; closing it with a sales opportunity emits sales_opportunity', async () => {
    const { t, web } = served();
    await saveUser(t.database.pool, { email: 'ada@example.com', role: 'admin', password: 'correct horse battery' });
    const page = await browser().newPage();
    try {
      await page.goto(`${web.base}/inbox/${contactId}`);
      await submitSignIn(page, 'ada@example.com', 'correct horse battery', `${web.base}/inbox/${contactId}`);
      expect(await page.locator('[data-sentiment]').textContent()).to.match(/^-?\d(\.\d+)? \((negative|neutral|positive)\)$/);
      expect(await page.locator('[data-csat]').textContent()).to.contain('5 of 5 · by link');
      await page.fill('#resolution', 'told her the delivery day');
      await page.fill('#opportunity', 'asked whether we also sell gift cards');
      await page.fill('#product', 'Gift card');
      await page.click('form[action$="/close"] button[type=submit]');
      await page.waitForURL(/done=closed/);
    } finally {
      await page.close();
    }
    const { rows } = await t.database.pool.query(
      `SELECT name, properties FROM events WHERE name IN ('contact_closed', 'sales_opportunity') ORDER BY id`,
    );
    expect(rows.map((r) => r.name)).to.deep.equal(['contact_closed', 'sales_opportunity']);
    expect(rows[1].properties).to.include({ contact: contactId, note: 'asked whether we also sell gift cards', product: 'Gift card' });
  });
});
