import { execFile } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import type { AddressObject } from 'mailparser';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { complaintRate } from '../../src/campaigns/report.ts';
import { reportRequest } from '../../src/campaigns/report.ts';
import { ManualClock } from '../../src/clock.ts';
import { appendConsentEvents } from '../../src/consent/ledger.ts';
import { withTransaction } from '../../src/db/tx.ts';
import { recordMessages } from '../../src/messages/record.ts';
import { processRegistry } from '../../src/metrics.ts';
import { messageAddress } from '../../src/inbound/addresses.ts';
import { saveUser } from '../../src/access/users.ts';
import { until } from '../helpers/engine.ts';
import { startInboundApp, type InboundApp } from '../helpers/inbound-app.ts';
import { apiKeyFor } from '../helpers/keys.ts';
import { readScrape } from '../helpers/metrics.ts';
import { seedLeads, type SeedLead } from '../helpers/seed.ts';
import { deliverMail, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';
import { logIn } from '../helpers/web.ts';

const FIXTURE = path.resolve('test/fixtures/inbound');
const WEBHOOK_SECRET = 'complaints-webhook-secret-0123456789';
const BOUNDARY = 'part1_13d.2e68ed54_boundary';

function lead(id: string): SeedLead {
  return { id, email: `${id}@example.com`, first: id, locale: null, orders: 1, consent: ['grant', 'confirm'], sms: ['grant'] };
}

/** `raw` with the named header fields (folded lines included) taken out and `add` put on top, as a relaying MTA writes Return-Path and Received. */
function rewrite(raw: Buffer, drop: string[], add: string[] = []): Buffer {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const fields = text.slice(0, end).split(/\r\n(?![ \t])/);
  const kept = fields.filter((f) => !drop.includes(f.slice(0, f.indexOf(':')).toLowerCase()));
  return Buffer.from([...add, ...kept].join('\r\n') + text.slice(end), 'latin1');
}

/**
 * An abuse report as a mailbox provider's feedback loop sends it, in the shape of RFC 5965's
 * Appendix B: a human-readable part, the message/feedback-report fields, and the message
 * complained of (message/rfc822) or only its header (text/rfc822-headers).
 */
function abuseReport(
  original: Buffer,
  options: { id: string; to: string; feedbackType?: string; headersOnly?: boolean; userAgent?: string },
): Buffer {
  const quoted = options.headersOnly ? original.subarray(0, original.indexOf('\r\n\r\n') + 2) : original;
  const head = [
    'From: <staff@feedback.example.net>',
    'Date: Mon, 2 Mar 2026 12:40:36 +0000',
    'Subject: FW: Our offer for you',
    `To: <${options.to}>`,
    `Message-ID: <${options.id}@feedback.example.net>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report;',
    `     boundary="${BOUNDARY}"`,
    '',
    `--${BOUNDARY}`,
    'Content-Type: text/plain; charset="US-ASCII"',
    'Content-Transfer-Encoding: 7bit',
    '',
    'This is an email abuse report for an email message received from IP',
    '192.0.2.1 on Mon, 2 Mar 2026 10:00:00 +0000.  For more information',
    'about this format please see http://www.mipassoc.org/arf/.',
    '',
    `--${BOUNDARY}`,
    'Content-Type: message/feedback-report',
    '',
    `Feedback-Type: ${options.feedbackType ?? 'abuse'}`,
    `User-Agent: ${options.userAgent ?? 'SomeGenerator/1.0'}`,
    'Version: 1',
    'Original-Mail-From: <touchpoint@localhost>',
    'Original-Rcpt-To: <someone@example.com>',
    'Arrival-Date: Mon, 2 Mar 2026 10:00:00 +0000',
    'Source-IP: 192.0.2.1',
    'Reported-Domain: localhost',
    '',
    `--${BOUNDARY}`,
    `Content-Type: ${options.headersOnly ? 'text/rfc822-headers' : 'message/rfc822'}`,
    'Content-Disposition: inline',
    '',
    '',
  ].join('\r\n');
  return Buffer.concat([Buffer.from(head), quoted, Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]);
}

describe('spam complaints (RFC 5965 abuse reports) withdraw email consent', function () {
  this.timeout(90_000);
  let sink: SmtpSink;
  let app: InboundApp;
  let key: string;
  const clock = new ManualClock('2026-03-02T10:00:00Z');

  /** The message the engine sent to this lead, as its bytes arrived at the provider, with the Return-Path and Received its MTA adds. */
  const original = (id: string, returnPath = 'touchpoint@localhost'): Buffer => {
    const i = sink.messages.findIndex((m) => (m.to as AddressObject).value[0]!.address === `${id}@example.com`);
    return rewrite(
      sink.raw[i]!,
      [],
      [
        `Return-Path: <${returnPath}>`,
        'Received: from mta.example.com (mta.example.com [192.0.2.1]) by mx.example.com; Mon, 2 Mar 2026 10:00:00 +0000',
      ],
    );
  };
  const fbl = () => `fbl@${app.domain}`;
  const overSmtp = (raw: Buffer) => deliverMail(app.inbound.port, { envelope: { from: 'staff@feedback.example.net', to: fbl() }, raw });
  const overWebhook = async (raw: Buffer) => {
    const res = await fetch(`${app.web.base}/webhooks/email/inbound`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WEBHOOK_SECRET}`, 'content-type': 'message/rfc822' },
      body: new Uint8Array(raw),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const messageOf = async (id: string, step = 'offer') =>
    (
      await app.t.database.pool.query<{ id: number; leadId: number; status: string; reason: string | null }>(
        `SELECT m.id, m.lead_id AS "leadId", m.status, m.reason FROM messages m JOIN leads l ON l.id = m.lead_id WHERE l.external_id = $1 AND m.step_id = $2`,
        [id, step],
      )
    ).rows[0];
  const consentEvents = async (id: string) =>
    (
      await app.t.database.pool.query<{
        channel: string;
        purpose: string;
        action: string;
        source: string;
        actor: string;
        evidence: Record<string, unknown>;
      }>(
        `SELECT e.channel, e.purpose, e.action, e.source, e.actor, e.evidence FROM consent_events e JOIN leads l ON l.id = e.lead_id
          WHERE l.external_id = $1 AND e.source = 'spam-complaint' ORDER BY e.id`,
        [id],
      )
    ).rows;
  const count = async (table: string) =>
    (await app.t.database.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
  const report = () => app.t.engine.campaigns.report(reportRequest(app.t.engine.loadCampaigns(), 'followup', null));

  before(async () => {
    sink = await startSmtpSink();
    app = await startInboundApp(
      {
        CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'),
        TEMPLATES_DIR: path.join(FIXTURE, 'templates'),
        SMTP_URL: sink.url,
        INBOUND_WEBHOOK_SECRET: WEBHOOK_SECRET,
      },
      clock,
    );
    const people = ['alice', 'bert', 'carol', 'dora'];
    await seedLeads(app.t.database, people.map(lead), new Date('2026-03-02T10:00:00Z'));
    // Alice also takes the newsletter by email: a second email purpose, which a complaint ends too.
    const { rows } = await app.t.database.pool.query<{ id: number }>(`SELECT id FROM leads WHERE external_id = 'alice'`);
    await withTransaction(app.t.database.pool, (client) =>
      appendConsentEvents(client, [
        {
          leadId: rows[0]!.id,
          channel: 'email',
          purpose: 'newsletter',
          action: 'grant',
          source: 'test',
          actor: 'test',
          occurredAt: new Date('2026-03-02T09:30:00Z'),
        },
      ]),
    );
    await saveUser(app.t.database.pool, { email: 'mia@example.com', role: 'marketer', password: 'correct horse battery' });
    key = await apiKeyFor(app.t.database, 'admin');
    await app.t.engine.startDispatcher();
    const set = app.t.engine.loadCampaigns();
    await app.t.engine.run(requireCampaign(set, 'followup'), set, { occurrence: 'o', trigger: 'manual' });
    await sink.waitFor(people.length);
    // The sink has them; the dispatcher records each as sent just after.
    await until(async () => ((await report()).complaint_rate.sent === people.length ? true : undefined));
  });
  after(async () => {
    await app?.close();
    await sink?.close();
  });

  it('an abuse report about a message we sent withdraws every email purpose of that person with source spam-complaint, once', async () => {
    expect((await report()).complaint_rate).to.deep.equal({ complaints: 0, sent: 4, rate: 0, level: 'ok' });
    const scraped = readScrape(await processRegistry.metrics());
    const sent = await messageOf('alice');
    // A newsletter issue already queued for next week: a send that has not started.
    const [queued] = await withTransaction(app.t.database.pool, (client) =>
      recordMessages(client, [
        {
          idempotencyKey: 'newsletter:march:alice',
          campaignId: 'newsletter',
          stepId: 'issue',
          occurrence: 'march',
          leadId: sent!.leadId,
          channel: 'email',
          purpose: 'newsletter',
          persona: 'default',
          status: 'queued',
          toAddress: 'alice@example.com',
          subject: 'News in March',
          bodyText: 'News',
          bodyHtml: '<p>News</p>',
          headers: {},
          dueAt: new Date('2026-03-09T10:00:00Z'),
        },
      ]),
    );
    const reportBytes = abuseReport(original('alice'), { id: 'report-1', to: fbl() });

    await overSmtp(reportBytes);

    const events = await consentEvents('alice');
    expect(events.map((e) => `${e.channel}/${e.purpose} ${e.action} ${e.actor}`)).to.deep.equal([
      'email/marketing withdraw recipient',
      'email/newsletter withdraw recipient',
    ]);
    expect(events[0]!.evidence).to.deep.include({
      message_id: sent!.id,
      report_id: '<report-1@feedback.example.net>',
      feedback_type: 'abuse',
      reporter: 'SomeGenerator/1.0',
      identified_by: 'message-id',
    });
    expect(events[0]!.evidence.report_sha256).to.match(/^[0-9a-f]{64}$/);
    // SMS consent stays: the complaint is about email.
    const sms = await app.t.engine.consent.current((await app.t.engine.leads.find('alice'))!.id);
    expect(sms.find((s) => s.channel === 'sms' && s.purpose === 'marketing')).to.include({ status: 'granted' });
    // The unstarted reminder is suppressed like after any withdrawal; nothing became a contact.
    expect(await messageOf('alice', 'issue')).to.include({ id: queued!.id, status: 'suppressed', reason: 'withdrawn' });
    expect(await count('inbound_contacts')).to.equal(0);
    expect(await count('spam_complaints')).to.equal(1);

    // The provider sends the same report again, and another copy comes by the webhook: nothing changes, nothing is recorded.
    await overSmtp(reportBytes);
    const again = await overWebhook(abuseReport(original('alice'), { id: 'report-1-copy', to: fbl() }));
    expect(again).to.deep.equal({ status: 200, body: { contact: null, duplicate: true, complaint: 'duplicate' } });
    expect(await consentEvents('alice')).to.have.length(2);
    expect(await count('spam_complaints')).to.equal(1);

    const counted = readScrape(await processRegistry.metrics());
    const added = (result: string) =>
      (counted.value('touchpoint_spam_complaints_total', { result }) ?? 0) -
      (scraped.value('touchpoint_spam_complaints_total', { result }) ?? 0);
    expect([added('recorded'), added('duplicate')]).to.deep.equal([1, 2]);

    // The audit reads the ledger: the withdrawal, its source and its evidence, and the chain still verifies.
    const proof = await app.t.engine.consent.proof('alice');
    const audited = JSON.stringify(proof);
    expect(audited).to.contain('spam-complaint').and.to.contain('SomeGenerator/1.0');
    expect((await app.t.engine.consent.verify()).broken).to.equal(undefined);
  });

  it('names the message by its VERP return path or its List-Unsubscribe mailto when the Message-ID is gone', async () => {
    const bertMessage = (await messageOf('bert'))!;
    const verp = messageAddress(app.t.engine.secret, 'bounce', app.domain, bertMessage.id);
    // Its generator's name holds a NUL and a bell: kept as evidence without them.
    const userAgent = 'Some\u0000Generator/1.0\u0007';
    await overSmtp(
      abuseReport(rewrite(original('bert', verp), ['message-id', 'reply-to', 'list-unsubscribe']), {
        id: 'report-2',
        to: fbl(),
        userAgent,
      }),
    );
    expect((await consentEvents('bert')).map((e) => [e.evidence.identified_by, e.evidence.reporter])).to.deep.equal([
      ['return-path', 'Some Generator/1.0'],
    ]);

    // Only the quoted header, with the unsubscribe mailto as the one token left, by the webhook.
    const answer = await overWebhook(
      abuseReport(rewrite(original('carol'), ['message-id', 'reply-to']), { id: 'report-3', to: fbl(), headersOnly: true }),
    );
    expect(answer).to.deep.equal({ status: 201, body: { contact: null, duplicate: false, complaint: 'recorded' } });
    expect((await consentEvents('carol')).map((e) => `${e.purpose} ${e.evidence.identified_by}`)).to.deep.equal([
      'marketing list-unsubscribe',
    ]);
  });

  it('a report naming a forged or unsigned Message-ID, or feedback that is no abuse, changes nothing', async () => {
    const dora = (await messageOf('dora'))!;
    const tokenless = (messageId: string) =>
      rewrite(original('dora'), ['message-id', 'reply-to', 'list-unsubscribe'], [`Message-ID: ${messageId}`]);
    const signed = messageAddress(app.t.engine.secret, 'message', app.domain, dora.id);
    const forged = signed.replace(/-[0-9a-f]{20}@/, `-${'0'.repeat(20)}@`);
    const before = { events: await count('consent_events'), complaints: await count('spam_complaints') };

    await overSmtp(abuseReport(tokenless(`<${forged}>`), { id: 'report-4', to: fbl() }));
    await overSmtp(abuseReport(tokenless(`<message-${dora.id}@${app.domain}>`), { id: 'report-5', to: fbl() }));
    const notSpam = await overWebhook(abuseReport(original('dora'), { id: 'report-6', to: fbl(), feedbackType: 'not-spam' }));
    expect(notSpam.body).to.deep.equal({ contact: null, duplicate: false, complaint: 'not-abuse' });

    expect({ events: await count('consent_events'), complaints: await count('spam_complaints') }).to.deep.equal(before);
    expect(await count('inbound_contacts')).to.equal(0);
    expect(await consentEvents('dora')).to.deep.equal([]);
  });

  it('the campaign report counts complaints per step and flags the complaint rate, in the API, the CLI and the page', async () => {
    // Three of four emails complained of: far past the alert level.
    const figures = await report();
    expect(figures.steps.find((s) => s.step === 'offer')).to.include({ sent: 4, spam_complaints: 3 });
    expect(figures.complaint_rate).to.deep.equal({ complaints: 3, sent: 4, rate: 0.75, level: 'alert' });

    const api = await fetch(`${app.web.base}/api/v1/campaigns/followup/report`, { headers: { authorization: `Bearer ${key}` } });
    expect(((await api.json()) as { complaint_rate: unknown }).complaint_rate).to.deep.equal(figures.complaint_rate);

    const printed = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['bin/touchpoint.js', 'report', 'followup'],
        { env: { ...process.env, ...app.t.env, LOG_LEVEL: 'error' } },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      ),
    );
    expect(printed).to.contain('complaint rate 75.00 % (3 spam complaints, 4 emails sent)\nALERT: ABOVE 0.30 %');
    expect(printed).to.match(/spam complaints/);

    const session = await logIn(app.web.base, 'mia@example.com', 'correct horse battery');
    const page = await (await fetch(`${app.web.base}/campaigns/followup/report`, { headers: { cookie: session.cookie } })).text();
    expect(page).to.contain('data-complaint-level="alert"');
    expect(page).to.contain('data-figure="steps.offer.spam_complaints">3<');
  });

  it('the next step of the campaign complained of is suppressed as withdrawn; it still goes to the person who did not complain', async () => {
    clock.advance(2 * 86_400_000 + 60_000);
    await app.t.engine.advanceSequences();
    const reminders = await Promise.all(['alice', 'bert', 'carol', 'dora'].map((id) => messageOf(id, 'reminder')));
    expect(reminders.map((m) => m?.reason ?? null)).to.deep.equal(['withdrawn', 'withdrawn', 'withdrawn', null]);
    expect(reminders[3]!.status).to.be.oneOf(['queued', 'sending', 'sent']);
  });

  it('the complaint rate warns above 0.1 % and alerts above 0.3 % of email sent', () => {
    expect(complaintRate(0, 0)).to.deep.equal({ complaints: 0, sent: 0, rate: null, level: 'ok' });
    expect(complaintRate(1, 1000).level).to.equal('ok');
    expect(complaintRate(2, 1000).level).to.equal('warning');
    expect(complaintRate(3, 1000).level).to.equal('warning');
    expect(complaintRate(4, 1000).level).to.equal('alert');
    expect(complaintRate(1, 5)).to.deep.equal({ complaints: 1, sent: 5, rate: 0.2, level: 'alert' });
  });
});
