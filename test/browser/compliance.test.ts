import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { saveUser } from '../../src/access/users.ts';
import type { AccessBundle } from '../../src/leads/access-request.ts';
import { saveLeads } from '../../src/leads/store.ts';
import { submitSignIn, useBrowser } from '../helpers/browser.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { startWeb, type TestWeb } from '../helpers/web.ts';

const PASSWORD = 'correct horse battery';
const NOTICE = 'Wir senden Ihnen Angebote per SMS, höchstens einmal pro Woche.\nAntworten Sie STOP, um sie zu beenden.\n';

/**
 * Issue 17, as a compliance officer works: find Greta by a part of her name, open her record, read
 * the notice she agreed to in the timeline, and download everything held about her; the request is
 * then listed on her record.
 */
describe('the compliance officer’s workspace in headless Chromium', function () {
  this.timeout(90_000);
  const browser = useBrowser();
  let t: TestEngine;
  let web: TestWeb;

  before(async () => {
    const notices = fs.mkdtempSync(path.join(os.tmpdir(), 'notices-'));
    fs.mkdirSync(path.join(notices, 'marketing'));
    fs.writeFileSync(path.join(notices, 'marketing', '2026-01.de.md'), NOTICE);
    web = await startWeb();
    t = await testEngine({ PUBLIC_URL: web.base, NOTICES_DIR: notices });
    web.serve(t.engine);
    await saveUser(t.database.pool, { email: 'clara@example.com', name: 'Clara', role: 'compliance', password: PASSWORD });
    const [greta] = await saveLeads(t.database.pool, [
      {
        externalId: 'crm-4711',
        email: 'g.schmidt@example.org',
        phone: '+4915100004711',
        firstName: 'Greta',
        lastName: 'Schmidt',
        locale: 'de',
        timezone: null,
        persona: null,
        tags: [],
        attributes: { orders: 3 },
      },
    ]);
    await t.engine.consent.record({
      leadId: greta!.id,
      channel: 'sms',
      purpose: 'marketing',
      action: 'grant',
      source: 'signup-form',
      actor: 'key:website',
      notice: { version: '2026-01', text: NOTICE },
    });
  });
  after(async () => {
    await web.close();
    await t.close();
  });

  it('finds a person by a part of her name, shows the notice text in her timeline, and downloads the access-request bundle', async () => {
    const page = await browser().newPage({ acceptDownloads: true });
    try {
      await page.goto(`${web.base}/audit`);
      await submitSignIn(page, 'clara@example.com', PASSWORD, `${web.base}/audit`);
      await page.fill('#q', 'schmi');
      await page.click('text=Search');
      await page.click('tr[data-lead="crm-4711"] a');
      await page.waitForURL(`${web.base}/audit/leads/crm-4711`);

      const notice = await page.locator('#consent-events tbody tr').first().locator('blockquote.notice').innerText();
      expect(notice).to.contain('höchstens einmal pro Woche').and.contain('STOP');
      expect(await page.locator('#current-consent tr[data-purpose="marketing"][data-channel="sms"]').innerText()).to.contain('allowed');
      expect(await page.locator('#access-requests tbody').innerText()).to.contain('No access requests.');

      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#access-request button')]);
      expect(download.suggestedFilename()).to.equal('access-request-crm-4711.json');
      const bundle = JSON.parse(fs.readFileSync((await download.path())!, 'utf8')) as AccessBundle;
      expect(bundle.lead).to.include({ external_id: 'crm-4711', last_name: 'Schmidt' });
      expect(bundle.request.requested_by).to.equal('user:clara@example.com');
      expect(bundle.consent.consent_events[0]!.notice).to.deep.equal({ version: '2026-01', locale: 'de', text: NOTICE });

      await page.reload();
      expect(await page.locator('#access-requests tbody').innerText()).to.contain('user:clara@example.com');
    } finally {
      await page.close();
    }
  });
});
