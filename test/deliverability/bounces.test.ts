import { expect } from 'chai';
import { saveUser } from '../../src/access/users.ts';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { reportRequest } from '../../src/campaigns/report.ts';
import { ManualClock } from '../../src/clock.ts';
import { bounceAddress } from '../../src/inbound/addresses.ts';
import type { InboundSmtp } from '../../src/inbound/smtp-listener.ts';
import { saveLeads } from '../../src/leads/store.ts';
import { settled, until, type TestEngine } from '../helpers/engine.ts';
import { startInboundApp, type InboundApp } from '../helpers/inbound-app.ts';
import { captureJsonLog } from '../helpers/logs.ts';
import { seedLeads, type SeedLead } from '../helpers/seed.ts';
import { deliverMail, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';
import { logIn, type TestWeb } from '../helpers/web.ts';

/**
 * Bounces, as mailbox providers send them: delivery status notifications shaped as RFC 3464's
 * examples, sent over SMTP to the return path of the message they report on, into the real inbound
 * listener (or posted to the inbound webhook), and a receiving server that refuses an address while
 * we send. The spring campaign (test/fixtures/e2e) sends one email step; each run under a new
 * occurrence label sends it again.
 */
const INBOUND_DOMAIN = 'in.touchpoint.test';
const SECRET = 'a-shared-secret-for-inbound-mail';
const DAY = 24 * 3_600_000;

const person = (id: string): SeedLead => ({
  id,
  email: `${id}@example.com`,
  first: id,
  locale: null,
  orders: 1,
  consent: ['grant', 'confirm'],
});

/** A delivery status notification as RFC 3464's examples show it, with the original's headers (text/rfc822-headers). */
function dsn(o: {
  id: string;
  returnPath: string;
  recipient: string;
  action: string;
  status: string;
  diagnostic: string;
  original?: string;
}) {
  const boundary = `${o.id}/mx.example.org`;
  return [
    'Date: Thu, 26 Nov 2026 00:10:00 +0000',
    'From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>',
    `Message-Id: <${o.id}@mx.example.org>`,
    'Subject: Returned mail: see transcript for details',
    `To: <${o.returnPath}>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status;',
    `              boundary="${boundary}"`,
    '',
    `--${boundary}`,
    '',
    '   ----- The following addresses had delivery problems -----',
    `<${o.recipient}>  (${o.action === 'failed' ? 'unrecoverable error' : 'still trying'})`,
    '',
    `--${boundary}`,
    'content-type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.org',
    'Arrival-Date: Thu, 26 Nov 2026 00:00:05 +0000',
    '',
    `Original-Recipient: rfc822;${o.recipient}`,
    `Final-Recipient: rfc822;${o.recipient}`,
    `Action: ${o.action}`,
    `Status: ${o.status}`,
    `Diagnostic-Code: smtp; ${o.diagnostic}`,
    'Last-Attempt-Date: Thu, 26 Nov 2026 00:10:00 +0000',
    '',
    `--${boundary}`,
    'content-type: text/rfc822-headers',
    '',
    `Return-Path: <${o.returnPath}>`,
    'From: Touchpoint <touchpoint@localhost>',
    `To: ${o.recipient}`,
    ...(o.original ? [`Message-ID: ${o.original}`] : []),
    'Subject: Spring offer',
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

const HARD = { action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 <hard@example.com>... User unknown' };
const SOFT = { action: 'delayed', status: '4.2.2', diagnostic: '452 4.2.2 Mailbox full' };

describe('bounces', function () {
  this.timeout(60_000);
  let sink: SmtpSink;
  let web: TestWeb;
  let t: TestEngine;
  let clock: ManualClock;
  let inbound: InboundSmtp;
  let app: InboundApp;
  let runs = 0;

  beforeEach(async () => {
    // The receiving server refuses one address for good while we send.
    sink = await startSmtpSink({
      refuse: (rcpt) =>
        rcpt === 'gone@example.com'
          ? { code: 550, message: '5.1.1 <gone@example.com>: Recipient address rejected: User unknown' }
          : undefined,
    });
    clock = new ManualClock('2026-11-02T10:00:00Z');
    app = await startInboundApp(
      { SMTP_URL: sink.url, INBOUND_DOMAIN, INBOUND_WEBHOOK_SECRET: SECRET, MAIL_FROM: 'Shop <shop@example.com>' },
      clock,
    );
    ({ t, web, inbound } = app);
    await seedLeads(t.database, ['hard', 'soft', 'gone', 'forged', 'keep'].map(person), clock.now());
    runs = 0;
  });
  afterEach(async () => {
    await app.close();
    await sink.close();
  });

  /** Runs the spring campaign once more (a new occurrence) and waits until every message is sent, refused or suppressed. */
  async function runSpring(): Promise<string> {
    const occurrence = `o${++runs}`;
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence, trigger: 'manual' });
    await settled(t, 'spring', occurrence);
    return occurrence;
  }

  /** The return path (MAIL FROM) the receiving server saw for `lead`'s message of the run `nth` (1-based) it received. */
  const returnPathOf = (lead: string, nth = 1) => sink.envelopes.filter((e) => e.to.includes(`${lead}@example.com`))[nth - 1]!.from;

  /** Sends a DSN from a mailbox provider's MTA to our return path, over SMTP with the null sender. */
  const bounce = (returnPath: string, raw: string) => deliverMail(inbound.port, { envelope: { from: '', to: [returnPath] }, raw });

  async function suppressedByPlan(): Promise<Record<string, string>> {
    const set = t.engine.loadCampaigns();
    const plan = await t.engine.plan(requireCampaign(set, 'spring'), set, { occurrence: 'next' });
    return Object.fromEntries(plan.suppressed.map((s) => [s.lead, s.reason]));
  }

  async function messagesOf(occurrence: string) {
    const { rows } = await t.database.pool.query<{ lead: string; status: string; reason: string | null }>(
      `SELECT l.external_id AS lead, m.status, m.reason FROM messages m JOIN leads l ON l.id = m.lead_id
        WHERE m.occurrence = $1 ORDER BY l.external_id`,
      [occurrence],
    );
    return Object.fromEntries(rows.map((r) => [r.lead, r.reason ? `${r.status}:${r.reason}` : r.status]));
  }

  const bounces = async () =>
    (
      await t.database.pool.query<{ lead: string; outcome: string; source: string; status: string; action: string | null }>(
        `SELECT l.external_id AS lead, b.outcome, b.source, b.status, b.action FROM email_bounces b JOIN leads l ON l.id = b.lead_id ORDER BY b.id`,
      )
    ).rows;

  it('sends each email with its own signed return path on the inbound domain, the From header unchanged', async () => {
    await t.engine.startDispatcher();
    await runSpring();
    const mail = sink.messages.find((m) => sink.envelopes[sink.messages.indexOf(m)]!.to.includes('keep@example.com'))!;
    expect(returnPathOf('keep')).to.match(/^bounce\+[0-9a-z]+-[0-9a-f]{20}@in\.touchpoint\.test$/);
    expect(returnPathOf('keep')).to.not.equal(returnPathOf('soft'));
    expect(mail.from?.value).to.deep.equal([{ name: 'Shop', address: 'shop@example.com' }]);
  });

  it('a hard bounce (5.1.1) suppresses the address as bounced from the next run on; a replayed report counts once; a forged token changes nothing', async () => {
    await t.engine.startDispatcher();
    const first = await runSpring();
    // The address refused at RCPT TO failed at once, and counts as a hard bounce too.
    expect(await messagesOf(first)).to.deep.equal({ forged: 'sent', gone: 'failed:rejected', hard: 'sent', keep: 'sent', soft: 'sent' });

    const report = dsn({ id: 'hard-1', returnPath: returnPathOf('hard'), recipient: 'hard@example.com', ...HARD });
    await bounce(returnPathOf('hard'), report);
    await bounce(returnPathOf('hard'), report);
    // A token altered by one character: someone trying to get another person's address suppressed.
    const genuine = returnPathOf('forged');
    const forged = genuine.replace(/([0-9a-f])@/, (_, c: string) => `${c === '0' ? '1' : '0'}@`);
    const log = await captureJsonLog(() =>
      bounce(forged, dsn({ id: 'forged-1', returnPath: forged, recipient: 'forged@example.com', ...HARD })),
    );
    expect(log.some((l) => l.json.msg === 'a bounce came to a return path we did not sign; ignored')).to.equal(true);

    expect(await bounces()).to.deep.equal([
      { lead: 'gone', outcome: 'hard', source: 'smtp', status: '5.1.1', action: null },
      { lead: 'hard', outcome: 'hard', source: 'dsn', status: '5.1.1', action: 'failed' },
    ]);
    // Bounces are no conversations: nobody in the inbox sees them.
    expect((await t.database.pool.query('SELECT count(*)::int AS n FROM inbound_contacts')).rows[0].n).to.equal(0);
    expect(await suppressedByPlan()).to.deep.equal({ gone: 'bounced', hard: 'bounced' });

    const second = await runSpring();
    expect(await messagesOf(second)).to.deep.equal({
      forged: 'sent',
      gone: 'suppressed:bounced',
      hard: 'suppressed:bounced',
      keep: 'sent',
      soft: 'sent',
    });
  });

  it('soft bounces (4.2.2) suppress only at the third in a row within 30 days; the same message delayed twice counts once', async () => {
    await t.engine.startDispatcher();
    for (let n = 1; n <= 3; n++) {
      await runSpring();
      const returnPath = returnPathOf('soft', n);
      const report = dsn({ id: `soft-${n}`, returnPath, recipient: 'soft@example.com', ...SOFT });
      await bounce(returnPath, report);
      // The MTA's second "still delayed" notice about the same message.
      await bounce(returnPath, report.replace(`soft-${n}@`, `soft-${n}-again@`));
      expect(await suppressedByPlan(), `after soft bounce ${n}`).to.deep.equal(
        n < 3 ? { gone: 'bounced' } : { gone: 'bounced', soft: 'bounced' },
      );
      clock.advance(10 * DAY);
    }
    expect((await bounces()).filter((b) => b.lead === 'soft')).to.have.length(3);
  });

  it('soft bounces spread over more than 30 days, or with a delivery reported between them, do not suppress', async () => {
    await t.engine.startDispatcher();
    const report = async (n: number, kind: { action: string; status: string; diagnostic: string }) => {
      await runSpring();
      const returnPath = returnPathOf('soft', n);
      await bounce(returnPath, dsn({ id: `soft-${n}`, returnPath, recipient: 'soft@example.com', ...kind }));
    };
    await report(1, SOFT);
    clock.advance(20 * DAY);
    await report(2, SOFT);
    clock.advance(11 * DAY);
    await report(3, SOFT);
    expect(await suppressedByPlan()).to.not.have.property('soft');
    await report(4, { action: 'delivered', status: '2.0.0', diagnostic: '250 2.0.0 OK' });
    await report(5, SOFT);
    expect(await suppressedByPlan()).to.not.have.property('soft');
    // The first three were 31 days apart, and the fourth message arrived: the streak is 5 alone.
    await report(6, SOFT);
    expect(await suppressedByPlan()).to.not.have.property('soft');
    await report(7, SOFT);
    expect(await suppressedByPlan()).to.have.property('soft', 'bounced');
  });

  it('a report quoting our Message-ID names its message without the return path; a changed address starts clean', async () => {
    await t.engine.startDispatcher();
    await runSpring();
    const original = sink.messages[sink.envelopes.findIndex((e) => e.to.includes('hard@example.com'))]!.messageId!;
    // Forwarded by a provider that rewrote the envelope: only the quoted headers name the message.
    await deliverMail(inbound.port, {
      envelope: { from: '', to: [`postmaster@${INBOUND_DOMAIN}`] },
      raw: dsn({ id: 'hard-1', returnPath: `postmaster@${INBOUND_DOMAIN}`, recipient: 'hard@example.com', original, ...HARD }),
    });
    expect(await suppressedByPlan()).to.have.property('hard', 'bounced');

    await saveLeads(t.database.pool, [
      {
        externalId: 'hard',
        email: 'hard.new@example.com',
        phone: null,
        firstName: 'hard',
        lastName: null,
        locale: null,
        timezone: null,
        persona: null,
        tags: ['customer'],
        attributes: {},
      },
    ]);
    expect(await suppressedByPlan()).to.not.have.property('hard');
  });

  it('sending a refused message again re-admits its address for that send; refused again, it is undeliverable again', async () => {
    await t.engine.startDispatcher();
    const first = await runSpring();
    expect(await suppressedByPlan()).to.deep.equal({ gone: 'bounced' });
    const set = t.engine.loadCampaigns();
    // The operator believes the mailbox fixed; the server still refuses it.
    expect(await t.engine.retry(requireCampaign(set, 'spring'), set, { reason: 'rejected' })).to.include({ resent: 1 });
    await settled(t, 'spring', first);
    expect(await messagesOf(first)).to.include({ gone: 'failed:rejected' });
    const { rows } = await t.database.pool.query(`SELECT attempts FROM messages WHERE to_address = 'gone@example.com'`);
    // It was offered to the server again (not suppressed), and refused again.
    expect(rows).to.deep.equal([{ attempts: 1 }]);
    expect(await suppressedByPlan()).to.deep.equal({ gone: 'bounced' });
  });

  it('a bounce that arrives after a message was recorded stops it when its send starts', async () => {
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence: 'early', trigger: 'manual' });
    await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence: 'late', trigger: 'manual' });
    const { rows } = await t.database.pool.query<{ id: number }>(
      `SELECT m.id FROM messages m JOIN leads l ON l.id = m.lead_id WHERE l.external_id = 'hard' AND m.occurrence = 'early'`,
    );
    // The return path its send would carry: the message need not have left for its address to be known bad.
    const returnPath = bounceAddress(t.engine.secret, INBOUND_DOMAIN, rows[0]!.id);
    await bounce(returnPath, dsn({ id: 'hard-1', returnPath, recipient: 'hard@example.com', ...HARD }));
    await t.engine.startDispatcher();
    await settled(t, 'spring', 'late');
    expect(await messagesOf('late')).to.include({ hard: 'suppressed:bounced', keep: 'sent' });
  });

  it('shows bounces in the report per step, and the address state with the bounce that set it on the lead page, the audit and the timeline', async () => {
    await saveUser(t.database.pool, { email: 'ada@example.com', role: 'admin', password: 'correct horse battery' });
    await t.engine.startDispatcher();
    const first = await runSpring();
    await bounce(returnPathOf('hard'), dsn({ id: 'hard-1', returnPath: returnPathOf('hard'), recipient: 'hard@example.com', ...HARD }));
    await bounce(returnPathOf('soft'), dsn({ id: 'soft-1', returnPath: returnPathOf('soft'), recipient: 'soft@example.com', ...SOFT }));
    const set = t.engine.loadCampaigns();
    const report = await t.engine.campaigns.report(reportRequest(set, 'spring', first));
    expect(report.steps.map((s) => [s.step, s.bounces])).to.deep.equal([['offer', { hard: 2, soft: 1 }]]);

    const ada = await logIn(web.base, 'ada@example.com', 'correct horse battery');
    const page = async (route: string) => (await fetch(web.base + route, { headers: { cookie: ada.cookie } })).text();
    expect(await page('/campaigns/spring/report'))
      .to.contain('data-figure="steps.offer.bounces.hard">2<')
      .and.contain('data-figure="steps.offer.bounces.soft">1<');
    for (const route of ['/leads/hard', '/audit/leads/hard']) {
      const html = await page(route);
      expect(html, route).to.match(/<dd id="email-state" data-status="undeliverable">/);
      expect(html, route)
        .to.contain('a hard bounce of message #')
        .and.contain('dsn failed 5.1.1 · smtp; 550 5.1.1 &lt;hard@example.com&gt;... User unknown');
    }
    expect(await page('/leads/gone')).to.contain('smtp 5.1.1 · 550 5.1.1 &lt;gone@example.com&gt;: Recipient address rejected');
    expect(await page('/leads/soft')).to.match(/<dd id="email-state" data-status="deliverable">.*1 report\(s\) on record/);
    expect(await page('/leads/hard')).to.match(/<tr data-kind="bounce">[\s\S]*?<strong>Bounced<\/strong> \(hard\)/);

    const hard = (await t.engine.leads.find('hard'))!;
    const timeline = await t.engine.leads.timeline(hard.id, { replies: null });
    expect(timeline.find((e) => e.kind === 'bounce'))
      .to.deep.include({ what: 'hard' })
      .and.have.nested.property('detail.status', '5.1.1');
  });

  it('erasing a person removes the address and the receiver’s words from their bounces, and their address state', async () => {
    await t.engine.startDispatcher();
    await runSpring();
    await bounce(returnPathOf('hard'), dsn({ id: 'hard-1', returnPath: returnPathOf('hard'), recipient: 'hard@example.com', ...HARD }));
    await t.engine.leads.erase('hard');
    const { rows } = await t.database.pool.query(
      `SELECT address, final_recipient, diagnostic, outcome, status FROM email_bounces b JOIN leads l ON l.id = b.lead_id WHERE l.external_id LIKE 'erased-%'`,
    );
    expect(rows).to.deep.equal([{ address: null, final_recipient: null, diagnostic: null, outcome: 'hard', status: '5.1.1' }]);
    const states = await t.database.pool.query(`SELECT count(*)::int AS n FROM email_address_states WHERE address = 'hard@example.com'`);
    expect(states.rows[0].n).to.equal(0);
  });

  it('takes a bounce posted to the inbound email webhook', async () => {
    await t.engine.startDispatcher();
    await runSpring();
    const returnPath = returnPathOf('hard');
    const post = () =>
      fetch(`${web.base}/webhooks/email/inbound?to=${encodeURIComponent(returnPath)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'message/rfc822' },
        body: dsn({ id: 'hard-web', returnPath, recipient: 'hard@example.com', ...HARD }),
      });
    const answer = await post();
    expect(answer.status).to.equal(201);
    expect(await answer.json()).to.include({ contact: null, bounce: true, duplicate: false });
    const again = await post();
    expect(again.status).to.equal(200);
    expect(await again.json()).to.include({ bounce: true, duplicate: true });
    await until(async () => ((await suppressedByPlan()).hard === 'bounced' ? true : undefined));
  });
});
