import { expect } from 'chai';
import { saveUser } from '../../src/access/users.ts';
import { reportRequest } from '../../src/campaigns/report.ts';
import { submitSignIn, useBrowser } from '../helpers/browser.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { logIn } from '../helpers/login.ts';
import { seedLeads } from '../helpers/seed.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';
import { startWeb, type TestWeb } from '../helpers/web.ts';

const PASSWORD = 'correct horse battery';

describe('a marketer’s test send and confirmed run in headless Chromium', function () {
  this.timeout(90_000);
  const browser = useBrowser();
  let t: TestEngine;
  let web: TestWeb;
  let sink: SmtpSink;

  before(async () => {
    sink = await startSmtpSink();
    web = await startWeb();
    t = await testEngine({ SMTP_URL: sink.url, PUBLIC_URL: web.base, TEST_RECIPIENTS: 'qa@example.com' });
    web.serve(t.engine);
    await saveUser(t.database.pool, { email: 'mia@example.com', name: 'Mia', role: 'marketer', password: PASSWORD });
    await seedLeads(t.database, [
      { id: 'r-1', email: 'rae@example.com', first: 'Rae', locale: null, orders: 12, consent: ['grant', 'confirm'] },
      { id: 'r-2', email: 'rob@example.com', first: 'Rob', locale: null, orders: 1, consent: ['grant'] },
    ]);
  });
  after(async () => {
    await web?.close();
    await t?.close();
    await sink?.close();
  });

  const report = () => t.engine.campaigns.report(reportRequest(t.engine.loadCampaigns(), 'spring', null));
  const count = async (table: string) => (await t.database.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;

  it('sends a test to the signed-in marketer, marked [TEST], that reaches no lead and counts in no report', async () => {
    const page = await browser().newPage();
    try {
      await page.goto(`${web.base}/login`);
      await submitSignIn(page, 'mia@example.com', PASSWORD, `${web.base}/campaigns`);

      await page.goto(`${web.base}/campaigns/spring/send-test`);
      expect(await page.locator('#test-to option').allInnerTexts()).to.deep.equal(['mia@example.com', 'qa@example.com']);
      await page.selectOption('#test-step', 'offer');
      await page.fill('#test-lead', 'r-1');
      await page.selectOption('#test-to', 'mia@example.com');
      await page.click('text=Send test to me');
      await page.waitForURL(`${web.base}/campaigns/spring/send-test?done=test-sent`);
      expect(await page.locator('.flash').innerText()).to.contain('Test sent');
    } finally {
      await page.close();
    }

    await sink.waitFor(1);
    expect(sink.messages).to.have.length(1);
    const [mail] = sink.messages;
    expect(mail!.to).to.deep.include({ text: 'mia@example.com' });
    expect(mail!.subject).to.equal('[TEST] [vip] Dear Rae');
    expect(
      sink.messages.some((m) => JSON.stringify(m.to).includes('rae@example.com')),
      'a message reached the lead',
    ).to.equal(false);
    expect(await count('messages')).to.equal(0);
    expect(await count('message_counts')).to.equal(0);
    expect((await report()).steps, 'the report has nothing to count').to.deep.equal([]);
    const { rows } = await t.database.pool.query(`SELECT to_address, status, requested_by FROM test_sends`);
    expect(rows).to.deep.equal([{ to_address: 'mia@example.com', status: 'sent', requested_by: 'user:mia@example.com' }]);

    // The form offers only the marketer's own address and the seed list; the route takes no other, the lead's included.
    const session = await logIn(web.base, 'mia@example.com', PASSWORD);
    const forged = await session.post('/campaigns/spring/send-test', { step: 'offer', lead: 'r-1', to: 'rae@example.com' });
    expect(forged.status).to.equal(403);
    expect(await forged.text()).to.contain('rae@example.com may not receive tests from you');
    expect(sink.messages).to.have.length(1);
  });

  it('Run… shows the plan’s numbers and records the run only when confirmed with the form', async () => {
    const page = await browser().newPage();
    try {
      await page.goto(`${web.base}/login`);
      await submitSignIn(page, 'mia@example.com', PASSWORD, `${web.base}/campaigns`);

      await page.goto(`${web.base}/campaigns/spring/run`);
      expect(await page.locator('[data-occurrence]').innerText()).to.equal('once');
      expect(await page.locator('[data-send]').innerText()).to.equal('1');
      expect(await page.locator('[data-suppressed]').innerText()).to.equal('1');
      expect(await page.locator('tr[data-step="offer"][data-channel="email"][data-outcome="send"] [data-count]').innerText()).to.equal('1');
      expect(await page.locator('tr[data-step="offer"][data-outcome="unconfirmed"] [data-count]').innerText()).to.equal('1');
      expect(await count('campaign_runs'), 'showing the plan records nothing').to.equal(0);

      // A post without this session's CSRF token (another site's form) is refused.
      const session = await logIn(web.base, 'mia@example.com', PASSWORD);
      const forged = await fetch(`${web.base}/campaigns/spring/run`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ occurrence: 'once' }).toString(),
      });
      expect(forged.status).to.equal(403);
      expect(await count('campaign_runs')).to.equal(0);

      await page.click('text=Start this run');
      await page.waitForURL(`${web.base}/campaigns/spring?done=run-started`);
    } finally {
      await page.close();
    }
    const { rows } = await t.database.pool.query(`SELECT campaign_id, occurrence, trigger FROM campaign_runs`);
    expect(rows).to.deep.equal([{ campaign_id: 'spring', occurrence: 'once', trigger: 'manual' }]);
    // The run's message counts; the earlier test send still does not.
    expect((await report()).steps.map((s) => [s.step, s.recorded])).to.deep.equal([['offer', 2]]);
  });
});
