import { expect } from 'chai';
import { submitSignIn, useBrowser } from '../helpers/browser.ts';
import { leadScenario, PASSWORD, REPLY_BODY, REPLY_SUBJECT, type LeadScenario } from '../helpers/lead-history.ts';

describe('the lead page in headless Chromium', function () {
  this.timeout(90_000);
  const browser = useBrowser();
  let s: LeadScenario;

  before(async () => {
    s = await leadScenario();
  });
  after(async () => {
    await s?.close();
  });

  it('lets a marketer find a lead and read their history: a message, a consent change and that they replied, never the reply', async () => {
    const page = await browser().newPage();
    try {
      await page.goto(`${s.web.base}/login`);
      await submitSignIn(page, 'mia@example.com', PASSWORD, `${s.web.base}/campaigns`);

      await page.click('header nav >> text=Leads');
      await page.waitForURL(`${s.web.base}/leads`);
      await page.fill('#q', 'anna@example.com');
      await page.click('button[type=submit]:has-text("Search")');
      await page.click('tr[data-lead="anna"] a');
      await page.waitForURL(`${s.web.base}/leads/anna`);

      expect(await page.locator('h1').innerText()).to.equal('Anna anna');
      expect(await page.locator('header nav a.active').innerText()).to.equal('Leads');
      const message = await page.locator('#history tr[data-kind="message"]').first().innerText();
      expect(message).to.contain('spring/offer');
      expect(message).to.match(/consent #\d+ confirm/);
      const consent = await page.locator('#history tr[data-kind="consent"]').allInnerTexts();
      expect(consent.join('\n')).to.contain('withdraw').and.contain('preference-center');
      expect(await page.locator('#history tr[data-kind="reply"]').innerText()).to.contain('Replied');
      expect(await page.locator('#replied').getAttribute('data-replied')).to.equal('yes');

      const text = await page.locator('body').innerText();
      for (const secret of [REPLY_BODY, REPLY_SUBJECT, 'husband']) expect(text, secret).not.to.contain(secret);
    } finally {
      await page.close();
    }
  });
});
