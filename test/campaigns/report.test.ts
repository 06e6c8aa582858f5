import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import type { AddressObject, ParsedMail } from 'mailparser';
import type { Page } from 'playwright-core';
import { saveUser } from '../../src/access/users.ts';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { ManualClock } from '../../src/clock.ts';
import { createApp } from '../../src/http/app.ts';
import { startInboundSmtp, type InboundSmtp } from '../../src/inbound/smtp-listener.ts';
import { ARTIFACTS_DIR, submitSignIn, useBrowser } from '../helpers/browser.ts';
import { apiKeyFor } from '../helpers/keys.ts';
import { settled, testEngine, until, type TestEngine } from '../helpers/engine.ts';
import { seedLeads, type SeedLead } from '../helpers/seed.ts';
import { deliverMail, recipient, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const FIXTURE = path.resolve('test/fixtures/reports');
const DAY = 86_400_000;
const HOUR = 3_600_000;
/** The first occurrence is sent ten days ago, the second a day later (the clock is the engine's). */
const T0 = new Date(Math.floor((Date.now() - 10 * DAY) / DAY) * DAY + 10 * HOUR);
const T1 = new Date(T0.getTime() + DAY);
const dayOf = (at: Date) => at.toISOString().slice(0, 10);

const none = { failed: {}, suppressed: {}, replies: {}, opt_outs: 0, conversions: 0, spam_complaints: 0, bounces: { hard: 0, soft: 0 } };

/**
 * Every figure of a report's JSON by its path, as the report page names it in `data-figure`:
 * `steps.offer.sent`, `steps.offer.failed.render_error`, `occurrences.march.recorded`.
 */
function figuresOf(report: Record<string, unknown>): Record<string, number> {
  const figures: Record<string, number> = {};
  for (const [section, rows] of Object.entries(report)) {
    if (!Array.isArray(rows)) continue;
    for (const row of rows as Record<string, unknown>[]) {
      const label = Object.values(row).find((v) => typeof v === 'string') as string;
      for (const [field, value] of Object.entries(row)) {
        if (typeof value === 'number') figures[`${section}.${label}.${field}`] = value;
        else if (typeof value === 'object' && value !== null)
          for (const [key, n] of Object.entries(value)) figures[`${section}.${label}.${field}.${key}`] = n as number;
      }
    }
  }
  return figures;
}

function lead(id: string, extra: Partial<SeedLead> = {}): SeedLead {
  return { id, email: `${id}@example.com`, first: id, locale: null, orders: 1, consent: ['grant', 'confirm'], ...extra };
}

/**
 * A campaign sent in two occurrences to a VIP (replies with a complaint, buys within the window),
 * a regular (unsubscribes from the first, asks to buy after the second, buys once the first's
 * window has passed), one never confirmed (suppressed) and one the template cannot render for
 * (failed, which holds him out of the second); and an event campaign that welcomes the first two, one occurrence each.
 */
describe('campaign report', function () {
  this.timeout(120_000);
  let t: TestEngine;
  let sink: SmtpSink;
  let inbound: InboundSmtp;
  let server: Server;
  let base: string;
  let key: string;
  let today: string;

  const api = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(`${base}${url}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: await res.json() };
  };
  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['bin/touchpoint.js', ...args],
        { env: { ...process.env, ...t.env, LOG_LEVEL: 'error' } },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  before(async () => {
    sink = await startSmtpSink();
    const clock = new ManualClock(T0);
    t = await testEngine(
      { CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'), TEMPLATES_DIR: path.join(FIXTURE, 'templates'), SMTP_URL: sink.url },
      clock,
    );
    await saveUser(t.database.pool, { email: 'ann@example.com', role: 'service', password: 'correct horse battery' });
    await saveUser(t.database.pool, { email: 'mia@example.com', role: 'marketer', password: 'correct horse battery' });
    await seedLeads(
      t.database,
      [lead('vera', { orders: 12 }), lead('rob'), lead('una', { consent: ['grant'] }), lead('nico')],
      new Date(T0.getTime() - DAY),
    );
    // Everyone but nico has the coupon the template reads.
    await t.database.pool.query(
      `UPDATE leads SET attributes = attributes || '{"coupon_code": "SPRING"}' WHERE external_id IN ('vera', 'rob', 'una')`,
    );
    inbound = await startInboundSmtp({
      ...t.config.inbound,
      host: '127.0.0.1',
      port: 0,
      domain: 'touchpoint.test',
      maxBytes: 1024 * 1024,
      receive: t.engine.receiveReply,
    });
    key = await apiKeyFor(t.database, 'admin');
    server = createApp(t.engine).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await t.engine.startDispatcher();

    const set = t.engine.loadCampaigns();
    const launch = requireCampaign(set, 'launch');
    await t.engine.run(launch, set, { occurrence: 'march', trigger: 'manual' });
    await settled(t, 'launch', 'march');
    await sink.waitFor(2);
    const march = [...sink.messages];
    clock.set(T1);
    await t.engine.run(launch, set, { occurrence: 'april', trigger: 'manual' });
    await settled(t, 'launch', 'april');
    await sink.waitFor(4);
    const april = sink.messages.slice(2);
    const to = (mails: ParsedMail[], who: string) => mails.find((m) => recipient(m) === `${who}@example.com`)!;
    const replyTo = (mail: ParsedMail) => (mail.replyTo as AddressObject).value[0]!.address!;

    expect(
      (
        await api('POST', '/api/v1/events', [
          { id: 's-1', lead: 'vera', event: 'signed_up' },
          { id: 's-2', lead: 'rob', event: 'signed_up' },
        ])
      ).status,
    ).to.equal(201);
    await sink.waitFor(6);
    expect(
      (
        await api('POST', '/api/v1/events', [
          // Within the window after vera's March offer (before anything else reached her).
          { id: 'p-1', lead: 'vera', event: 'purchase', occurred_at: new Date(T0.getTime() + HOUR).toISOString() },
          { id: 'p-2', lead: 'vera', event: 'purchase', occurred_at: new Date(T0.getTime() + 2 * HOUR).toISOString() },
          // Past the 2-day window of rob's March offer, within that of his April offer and of the welcome (7 days).
          { id: 'p-3', lead: 'rob', event: 'purchase', occurred_at: new Date(T1.getTime() + 26 * HOUR).toISOString() },
          // una was never sent anything.
          { id: 'p-4', lead: 'una', event: 'purchase', occurred_at: new Date(T1.getTime() + HOUR).toISOString() },
        ])
      ).status,
    ).to.equal(201);

    await deliverMail(inbound.port, {
      from: 'vera@example.com',
      to: replyTo(to(march, 'vera')),
      subject: 'Re',
      text: 'I am disappointed.',
    });
    await deliverMail(inbound.port, { from: 'rob@example.com', to: replyTo(to(april, 'rob')), subject: 'Re', text: 'I want to buy two.' });
    await until(async () => ((await t.database.pool.query('SELECT 1 FROM inbound_contacts')).rowCount === 2 ? true : undefined));

    const link = /<(http[^>]+)>/.exec(to(march, 'rob').headerLines.find((h) => h.key === 'list-unsubscribe')!.line)![1]!;
    const unsubscribed = await fetch(`${base}${new URL(link).pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(unsubscribed.status).to.equal(200);

    const { rows } = await t.database.pool.query<{ day: string }>(
      `SELECT DISTINCT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day FROM messages WHERE status <> 'sent'`,
    );
    expect(rows).to.have.length(1);
    today = rows[0]!.day;
  });
  after(async () => {
    await new Promise((r) => server?.close(r));
    await inbound?.close();
    await t?.close();
    await sink?.close();
  });

  /** The report as `report --json` prints it, held identical to the API's answer. */
  async function report(campaign: string, occurrence?: string) {
    const cliReport = await cli(['report', campaign, '--json', ...(occurrence ? ['--occurrence', occurrence] : [])]);
    expect(cliReport.stderr).to.equal('');
    expect(cliReport.code).to.equal(0);
    const answer = await api('GET', `/api/v1/campaigns/${campaign}/report${occurrence ? `?occurrence=${occurrence}` : ''}`);
    expect(answer.status).to.equal(200);
    const printed = JSON.parse(cliReport.stdout);
    expect(printed).to.deep.equal(answer.body);
    return printed;
  }

  it('adds up a campaign over its occurrences, per step, persona, channel and day', async () => {
    // nico's failed offer holds him (until a retry): April records nothing for him.
    const figures = {
      recorded: 7,
      sent: 4,
      delivered: 4,
      failed: { render_error: 1 },
      suppressed: { unconfirmed: 2 },
      replies: { complaint: 1, 'purchase-interest': 1 },
      opt_outs: 1,
      conversions: 2,
      spam_complaints: 0,
      bounces: { hard: 0, soft: 0 },
    };
    expect(await report('launch')).to.deep.equal({
      campaign: 'launch',
      occurrence: null,
      occurrences: [
        { occurrence: 'april', recorded: 3, sent: 2, delivered: 2, failed: 0, suppressed: 1 },
        { occurrence: 'march', recorded: 4, sent: 2, delivered: 2, failed: 1, suppressed: 1 },
      ],
      steps: [{ step: 'offer', ...figures }],
      by_persona: [
        {
          persona: 'regular',
          recorded: 5,
          sent: 2,
          delivered: 2,
          failed: { render_error: 1 },
          suppressed: { unconfirmed: 2 },
          replies: { 'purchase-interest': 1 },
          opt_outs: 1,
          conversions: 1,
          spam_complaints: 0,
          bounces: { hard: 0, soft: 0 },
        },
        { persona: 'vip', recorded: 2, sent: 2, delivered: 2, ...none, replies: { complaint: 1 }, conversions: 1 },
      ],
      by_channel: [{ channel: 'email', ...figures }],
      by_day: [
        { day: dayOf(T0), recorded: 2, sent: 2, delivered: 2, ...none, replies: { complaint: 1 }, opt_outs: 1, conversions: 1 },
        { day: dayOf(T1), recorded: 2, sent: 2, delivered: 2, ...none, replies: { 'purchase-interest': 1 }, conversions: 1 },
        { day: today, recorded: 3, sent: 0, delivered: 0, ...none, failed: { render_error: 1 }, suppressed: { unconfirmed: 2 } },
      ],
      // Two people wrote, each about a matter of their own: no repeat contact.
      repeat_rate: { contacts: 2, repeats: 0, rate: 0 },
      // "I am disappointed." and "I want to buy two.": their average sentiment; nobody answered a survey.
      emotion: [{ step: 'offer', replies: 2, sentiment: -0.047, csat_answers: 0, csat: null }],
      complaint_rate: { complaints: 0, sent: 4, rate: 0, level: 'ok' },
    });
  });

  it('reports one occurrence, and refuses one the campaign never had', async () => {
    const march = await report('launch', 'march');
    expect(march.occurrences).to.deep.equal([{ occurrence: 'march', recorded: 4, sent: 2, delivered: 2, failed: 1, suppressed: 1 }]);
    expect(march.steps).to.deep.equal([
      {
        step: 'offer',
        recorded: 4,
        sent: 2,
        delivered: 2,
        failed: { render_error: 1 },
        suppressed: { unconfirmed: 1 },
        replies: { complaint: 1 },
        opt_outs: 1,
        conversions: 1,
        spam_complaints: 0,
        bounces: { hard: 0, soft: 0 },
      },
    ]);

    const unknown = await api('GET', '/api/v1/campaigns/launch/report?occurrence=manual');
    expect(unknown.status).to.equal(404);
    expect(unknown.body.message).to.equal("campaign 'launch' has no messages of occurrence 'manual'; its occurrences: april, march");
    const printed = await cli(['report', 'launch', '--occurrence', 'manual']);
    expect(printed.code).to.equal(3);
    expect(printed.stderr).to.contain("campaign 'launch' has no messages of occurrence 'manual'; its occurrences: april, march");
    expect((await api('GET', '/api/v1/campaigns/nope/report')).status).to.equal(404);
  });

  it('adds up an event campaign over its enrollments', async () => {
    const welcome = await report('welcome');
    expect(welcome.occurrences).to.have.length(2);
    for (const o of welcome.occurrences) expect(o).to.include({ recorded: 1, sent: 1, delivered: 1 });
    // rob bought 26 hours after his welcome (the default window is 7 days); vera bought before hers.
    expect(welcome.steps).to.deep.equal([{ step: 'hello', recorded: 2, sent: 2, delivered: 2, ...none, conversions: 1 }]);
  });

  it('prints the report as tables', async () => {
    const { stdout, code } = await cli(['report', 'launch']);
    expect(code).to.equal(0);
    expect(stdout).to.contain('campaign launch, all occurrences');
    expect(stdout).to.match(/offer\s+7\s+4\s+4\s+render_error 1\s+unconfirmed 2\s+complaint 1, purchase-interest 1\s+1\s+2/);
  });

  describe('the report page in Chromium', () => {
    const browser = useBrowser();
    let page: Page;
    /** What the browser printed as an error, a refused script or style (CSP) included. */
    const errors: string[] = [];

    before(async () => {
      page = await browser().newPage({ viewport: { width: 1280, height: 900 } });
      page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
      page.on('pageerror', (e) => void errors.push(e.message));
      await page.goto(`${base}/login`);
      await submitSignIn(page, 'mia@example.com', 'correct horse battery', `${base}/campaigns`);
    });
    after(async () => {
      await page?.close();
    });

    /** The figures the page shows, read from the DOM; each path once. */
    async function shown(): Promise<Record<string, number>> {
      const pairs = await page.$$eval('[data-figure]', (els) => els.map((e) => [e.getAttribute('data-figure')!, e.textContent!.trim()]));
      expect(new Set(pairs.map(([k]) => k)).size, 'every figure once').to.equal(pairs.length);
      return Object.fromEntries(pairs.map(([k, v]) => [k, Number(v)]));
    }

    it('shows the figures of the API, over all occurrences and for one chosen in the selector', async () => {
      await page.click('tr[data-campaign="launch"] >> text=Report');
      await page.waitForURL(`${base}/campaigns/launch/report`);
      const all = await shown();
      expect(all['steps.offer.suppressed.unconfirmed']).to.equal(2);
      expect(all).to.deep.equal(figuresOf(await report('launch')));

      await page.selectOption('#occurrence-select', 'march');
      await page.click('#occurrence button[type=submit]');
      await page.waitForURL(`${base}/campaigns/launch/report?occurrence=march`);
      expect(await page.locator('[data-occurrence]').innerText()).to.equal('march');
      const march = await shown();
      expect(march['steps.offer.suppressed.unconfirmed']).to.equal(1);
      expect(march).to.deep.equal(figuresOf(await report('launch', 'march')));

      await page.goto(`${base}/campaigns/welcome/report`);
      expect(await shown()).to.deep.equal(figuresOf(await report('welcome')));
      expect(errors).to.deep.equal([]);
    });

    it('draws its charts as inline SVG with marks, and saves a screenshot', async () => {
      const response = await page.goto(`${base}/campaigns/launch/report`);
      expect(response!.headers()['content-security-policy']).to.contain("default-src 'none'");
      // Over time, the funnel, the emotion curve (two replies) and suppressions.
      expect(await page.locator('svg').count()).to.equal(4);
      for (const chart of ['over-time', 'funnel', 'emotion', 'suppressions']) {
        const marks = await page.locator(`figure[data-chart="${chart}"] svg .mark-rect path`).count();
        expect(marks, `bars of ${chart}`).to.be.greaterThan(0);
      }
      // The funnel has a bar per stage of the step: recorded, sent, delivered, replied, converted.
      expect(await page.locator('figure[data-chart="funnel"] svg .mark-rect path').count()).to.equal(5);
      expect(await page.locator('figure[data-chart="suppressions"] svg').innerHTML()).to.contain('unconfirmed');
      expect(await page.locator('script').count()).to.equal(0);
      fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
      const file = path.join(ARTIFACTS_DIR, 'campaign-report.png');
      await page.screenshot({ path: file, fullPage: true });
      expect(fs.statSync(file).size).to.be.greaterThan(10_000);
      expect(errors).to.deep.equal([]);
    });

    it('says "no data yet" for a campaign that sent nothing', async () => {
      const response = await page.goto(`${base}/campaigns/later/report`);
      expect(response!.status()).to.equal(200);
      expect(await page.locator('svg').count()).to.equal(0);
      expect(await page.locator('figure.chart [data-empty]').allInnerTexts()).to.deep.equal([
        'No data yet: nothing recorded.',
        'No data yet: nothing recorded.',
        'No replies yet.',
        'No data yet: nothing recorded.',
      ]);
      expect(await shown()).to.deep.equal({});
      expect(errors).to.deep.equal([]);
    });

    it('answers an occurrence the campaign never had, and a campaign that does not exist, with the 404 page', async () => {
      const unknown = await page.goto(`${base}/campaigns/launch/report?occurrence=manual`);
      expect(unknown!.status()).to.equal(404);
      expect(await page.locator('main').innerText()).to.contain(
        "campaign 'launch' has no messages of occurrence 'manual'; its occurrences: april, march",
      );
      await page.click('text=Back to your start page');
      await page.waitForURL(`${base}/campaigns`);
      expect((await page.goto(`${base}/campaigns/nope/report`))!.status()).to.equal(404);
    });
  });
});
