import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { saveUser } from '../../src/access/users.ts';
import { countSegments } from '../../src/channels/segments.ts';
import { submitSignIn, useBrowser } from '../helpers/browser.ts';
import { E2E_FIXTURE, testEngine, type TestEngine } from '../helpers/engine.ts';
import { seedLeads } from '../helpers/seed.ts';
import { startWeb, type TestWeb } from '../helpers/web.ts';

const PASSWORD = 'correct horse battery';
/** An SMS with an emoji (UCS-2) over one segment's 70 units. */
const FLASH = 'Flash sale 🎉 {{lead.first_name}}: 20% off everything in the spring collection today only. Reply STOP to opt out';

describe('a campaign’s page in headless Chromium', function () {
  this.timeout(90_000);
  const browser = useBrowser();
  let t: TestEngine;
  let web: TestWeb;
  let dir: string;
  let page: Page;
  /** What Chromium reports as errors, Content-Security-Policy violations among them. */
  const consoleErrors: string[] = [];

  before(async () => {
    // The fixture's campaigns and templates, and an SMS campaign beside them.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tp-campaign-page-'));
    fs.cpSync(E2E_FIXTURE, dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'campaigns', 'flash.yaml'),
      [
        'id: flash',
        'name: Flash sale',
        'kind: lead',
        'purpose: marketing',
        'audience: { tags: [customer] }',
        'steps:',
        '  - id: text',
        '    channel: sms',
        '    template: flash',
        '',
      ].join('\n'),
    );
    fs.mkdirSync(path.join(dir, 'templates', 'flash'));
    fs.writeFileSync(path.join(dir, 'templates', 'flash', 'default.sms.hbs'), FLASH);
    web = await startWeb();
    t = await testEngine({ CAMPAIGNS_DIR: path.join(dir, 'campaigns'), TEMPLATES_DIR: path.join(dir, 'templates'), PUBLIC_URL: web.base });
    web.serve(t.engine);
    await saveUser(t.database.pool, { email: 'mia@example.com', name: 'Mia', role: 'marketer', password: PASSWORD });
    await seedLeads(t.database, [
      { id: 'c-1', email: 'anna@example.com', first: 'Anna', locale: null, orders: 12, consent: ['grant', 'confirm'] },
      { id: 'c-2', email: 'ben@example.com', first: 'Ben', locale: 'de-DE', orders: 1, consent: ['grant', 'confirm'] },
      { id: 'c-3', email: 'carla@example.com', first: 'Carla', locale: null, orders: 3, consent: ['grant'] },
    ]);
    page = await browser().newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    await page.goto(`${web.base}/login`);
    await submitSignIn(page, 'mia@example.com', PASSWORD, `${web.base}/campaigns`);
  });
  after(async () => {
    await page?.close();
    await web?.close();
    await t?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('shows the YAML with line numbers, the plan counted by step, persona, channel and reason, and finds recipients by name', async () => {
    await page.click('tr[data-campaign="spring"] a');
    await page.waitForURL(`${web.base}/campaigns/spring`);
    expect(await page.locator('#yaml tr#L1').innerText()).to.match(/^1\s+id: spring$/);
    expect(await page.locator('#yaml tr#L9').innerText()).to.contain('channel: email');

    expect(await page.locator('#plan-totals').innerText()).to.contain('2 recipient(s), 1 suppressed');
    const count = (table: string, key: string) =>
      page.locator(`#plan-summary table[data-table="${table}"] tr[data-key="${key}"] td:nth-child(2)`).innerText();
    expect(await count('By step', 'offer')).to.equal('2');
    expect(await count('By persona', 'vip')).to.equal('1');
    expect(await count('By persona', 'regular')).to.equal('1');
    expect(await count('By channel', 'email')).to.equal('2');
    expect(await count('Suppressed by reason', 'unconfirmed')).to.equal('1');

    // Every person shown by name with their id; a search by name narrows the list to them.
    expect(await page.locator('#recipient-list tbody tr').count()).to.equal(3);
    await page.fill('#q', 'carl');
    await page.click('form.search button');
    await page.waitForURL(/q=carl/);
    const rows = await page.locator('#recipient-list tbody tr').allInnerTexts();
    expect(rows).to.have.length(1);
    expect(rows[0]).to.contain('Carla').and.contain('c-3').and.contain('unconfirmed');
    expect(await page.locator('#recipients-count').innerText()).to.contain('1 match(es)');
  });

  it('previews a step for two personas in a sandboxed frame, each with its own content, and reads the frame', async () => {
    const frameBody = async () => {
      const frame = page.locator('#preview-frame');
      expect(await frame.getAttribute('sandbox'), 'a sandbox with no allowances').to.equal('');
      return page.frameLocator('#preview-frame').locator('body').innerText();
    };
    await page.goto(`${web.base}/campaigns/spring`);
    await page.selectOption('#persona', 'vip');
    await page.click('.preview-form button');
    await page.waitForURL(/persona=vip/);
    expect(await page.locator('#preview-subject').innerText()).to.equal('[vip] Dear [first_name]');
    const vip = await frameBody();
    expect(vip).to.contain('Dear [first_name] <sample>');

    await page.selectOption('#persona', 'regular');
    await page.fill('#locale', 'de');
    await page.click('.preview-form button');
    await page.waitForURL(/persona=regular/);
    expect(await page.locator('#preview-subject').innerText()).to.equal('[default.de] Hi [first_name]');
    const regular = await frameBody();
    expect(regular).to.contain('Hi [first_name] <sample>');
    expect(regular).not.to.equal(vip);
    expect(await page.locator('#preview-text').innerText()).to.contain('Hi [first_name]');

    // A stored lead: their own data, their persona and locale.
    await page.fill('#lead', 'c-2');
    await page.click('.preview-form button');
    await page.waitForURL(/lead=c-2/);
    expect(await page.locator('#preview-subject').innerText()).to.equal('[default.de] Hi Ben');
    expect(await frameBody()).to.contain('Hi Ben <c-2>');
    expect(consoleErrors, 'no Content-Security-Policy violation').to.deep.equal([]);
    // Everything, tables and the preview included, fits a 1280 px wide window.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).to.be.at.most(1280);
  });

  it('previews an SMS step with its segment count and encoding', async () => {
    await page.goto(`${web.base}/campaigns/flash?step=text&persona=regular#preview`);
    const text = FLASH.replace('{{lead.first_name}}', '[first_name]');
    expect(await page.locator('#preview-text').innerText()).to.equal(text);
    const expected = countSegments(text);
    expect(expected).to.include({ encoding: 'UCS-2', segments: 2 });
    const segments = page.locator('#preview-segments');
    expect(await segments.getAttribute('data-segments')).to.equal('2');
    expect(await segments.innerText()).to.contain('2 segment(s), UCS-2');
    expect(await page.locator('#preview-frame').count(), 'an SMS has no HTML').to.equal(0);
  });
});
