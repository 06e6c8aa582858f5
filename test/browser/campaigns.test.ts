import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { saveUser } from '../../src/access/users.ts';
import { submitSignIn, useBrowser } from '../helpers/browser.ts';
import { E2E_FIXTURE, testEngine, type TestEngine } from '../helpers/engine.ts';
import { startWeb, type TestWeb } from '../helpers/web.ts';

const PASSWORD = 'correct horse battery';

describe('the marketer’s campaign list in headless Chromium', function () {
  this.timeout(90_000);
  const browser = useBrowser();
  let t: TestEngine;
  let web: TestWeb;
  let dir: string;

  before(async () => {
    // The fixture's campaigns, and one file with a mistake on its fourth line.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tp-campaigns-'));
    fs.cpSync(path.join(E2E_FIXTURE, 'campaigns'), dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'broken.yaml'),
      ['id: broken', 'name: Broken', 'kind: lead', 'purpose: 42', 'steps: []', ''].join('\n'),
    );
    web = await startWeb();
    t = await testEngine({ CAMPAIGNS_DIR: dir, PUBLIC_URL: web.base });
    web.serve(t.engine);
    await saveUser(t.database.pool, { email: 'mia@example.com', name: 'Mia', role: 'marketer', password: PASSWORD });
  });
  after(async () => {
    await web?.close();
    await t?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lands a marketer on the campaigns, each with its status, and shows a broken file at its line', async () => {
    const page = await browser().newPage();
    try {
      await page.goto(`${web.base}/login`);
      await submitSignIn(page, 'mia@example.com', PASSWORD, `${web.base}/campaigns`);

      expect(await page.locator('header nav a.active').innerText()).to.equal('Campaigns');
      const spring = await page.locator('tr[data-campaign="spring"]').innerText();
      expect(spring).to.contain('spring.yaml');
      expect(spring).to.contain('lead');
      const broken = await page.locator('#problems tr[data-file="broken.yaml"]').allInnerTexts();
      expect(broken.length, 'problems of broken.yaml').to.be.at.least(1);
      expect(broken.join('\n')).to.match(/broken\.yaml:\d+:\d+/);
      expect(await page.locator('tr[data-campaign="broken"]').count(), 'a broken campaign is not listed as loadable').to.equal(0);

      // A page of another role's part answers 403 with a way back to the marketer's own start page.
      const refused = await page.goto(`${web.base}/inbox`);
      expect(refused!.status()).to.equal(403);
      await page.click('text=Back to your start page');
      await page.waitForURL(`${web.base}/campaigns`);
    } finally {
      await page.close();
    }
  });
});
