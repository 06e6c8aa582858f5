import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { saveUser } from '../../src/access/users.ts';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { appendConsentEvents } from '../../src/consent/ledger.ts';
import { withTransaction } from '../../src/db/tx.ts';
import { saveLeads } from '../../src/leads/store.ts';
import { submitSignIn, useBrowser } from '../helpers/browser.ts';
import { startWeb, type TestWeb } from '../helpers/web.ts';
import { settled, testEngine, type TestEngine } from '../helpers/engine.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const PASSWORD = 'correct horse battery';

describe('consent audit pages in headless Chromium', function () {
  this.timeout(90_000);
  const browser = useBrowser();
  let sink: SmtpSink;
  let t: TestEngine;
  let web: TestWeb;
  let base: string;
  let confirmId: number;

  beforeEach(async () => {
    sink = await startSmtpSink();
    web = await startWeb();
    base = web.base;
    t = await testEngine({ SMTP_URL: sink.url, PUBLIC_URL: base });
    web.serve(t.engine);
    await saveUser(t.database.pool, { email: 'clara@example.com', name: 'Clara', role: 'compliance', password: PASSWORD });
    const [lead] = await saveLeads(t.database.pool, [
      {
        externalId: 'p-7',
        email: 'paula@example.com',
        phone: null,
        firstName: 'Paula',
        lastName: null,
        locale: null,
        timezone: null,
        persona: null,
        tags: ['customer'],
        attributes: { orders: 1 },
      },
    ]);
    const ids = await withTransaction(t.database.pool, (client) =>
      appendConsentEvents(client, [
        {
          leadId: lead!.id,
          channel: 'email',
          purpose: 'marketing',
          action: 'grant',
          source: 'signup-form',
          actor: 'key:website',
          occurredAt: new Date(Date.now() - 60_000),
          evidence: { ip: '203.0.113.42', user_agent: 'Mozilla/5.0 (Audit)', form: 'footer' },
          noticeVersion: 'privacy-v3',
          noticeHash: 'c'.repeat(64),
        },
        {
          leadId: lead!.id,
          channel: 'email',
          purpose: 'marketing',
          action: 'confirm',
          source: 'double-opt-in',
          actor: 'recipient',
          occurredAt: new Date(Date.now() - 30_000),
          evidence: { ip: '203.0.113.43' },
        },
      ]),
    );
    confirmId = ids[1]!;
    await t.engine.startDispatcher();
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence: 'o', trigger: 'manual' });
    await settled(t, 'spring', 'o');
  });
  afterEach(async () => {
    await web.close();
    await t.close();
    await sink.close();
  });

  async function logIn(page: Page) {
    await page.goto(`${base}/audit`);
    await submitSignIn(page, 'clara@example.com', PASSWORD, `${base}/audit`);
  }

  it('finds a person, shows their consent timeline with evidence and each message with its authorising event, and exports', async () => {
    const page = await browser().newPage({ acceptDownloads: true });
    try {
      await logIn(page);
      await page.fill('#q', 'paula@example.com');
      await page.click('text=Search');
      await page.click('tr[data-lead="p-7"] a');
      await page.waitForURL(`${base}/audit/leads/p-7`);

      expect(await page.locator('#chain').innerText()).to.contain('intact');
      const events = await page.locator('#consent-events tbody tr').allInnerTexts();
      expect(events).to.have.length(2);
      expect(events[0]).to.contain('grant');
      expect(events[0]).to.contain('203.0.113.42');
      expect(events[0]).to.contain('privacy-v3');
      expect(events[1]).to.contain('double-opt-in');
      const message = await page.locator('#messages tbody tr').first().innerText();
      expect(message).to.contain('spring / offer');
      expect(message).to.contain(`#${confirmId} confirm`);

      await page.fill('#at', '2000-01-01T00:00:00Z');
      await page.click('#as-of button');
      expect(await page.locator('#answer').innerText()).to.contain('Not allowed (no_consent)');
      await page.fill('#at', '');
      await page.click('#as-of button');
      expect(await page.locator('#answer').innerText()).to.contain(`Allowed (confirmed): deciding event #${confirmId} confirm`);

      const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=CSV')]);
      const csv = await new Promise<string>((resolve, reject) => {
        download.createReadStream().then((stream) => {
          let text = '';
          stream.on('data', (c: Buffer) => (text += c.toString()));
          stream.on('end', () => resolve(text));
        }, reject);
      });
      expect(download.suggestedFilename()).to.equal('consent-proof-p-7.csv');
      expect(csv).to.contain(`,spring/offer,,${confirmId}`);

      await page.goto(`${base}/audit/leads/p-7?print=1`);
      await page.emulateMedia({ media: 'print' });
      expect(await page.locator('header').isVisible()).to.equal(false);
      expect(await page.locator('#consent-events').isVisible()).to.equal(true);
    } finally {
      await page.close();
    }
  });

  it('shows when the ledger no longer verifies, naming the altered event', async () => {
    await t.database.pool.query(`ALTER TABLE consent_events DISABLE TRIGGER consent_events_append_only`);
    await t.database.pool.query(`UPDATE consent_events SET evidence = '{"ip":"198.51.100.9"}' WHERE id = $1`, [confirmId]);
    await t.database.pool.query(`ALTER TABLE consent_events ENABLE TRIGGER consent_events_append_only`);
    const page = await browser().newPage();
    try {
      await logIn(page);
      await page.click('text=Verify the ledger');
      expect(await page.locator('#chain').innerText()).to.contain(`does not verify: consent event #${confirmId}`);
      // The person's own record shows it too, without verifying the whole ledger.
      await page.goto(`${base}/audit/leads/p-7`);
      expect(await page.locator('#chain').innerText()).to.contain(
        `does not verify (event #${confirmId}: its content does not match its seal`,
      );
    } finally {
      await page.close();
    }
  });
});
