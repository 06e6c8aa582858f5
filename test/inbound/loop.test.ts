import { execFile } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import type { AddressObject, ParsedMail } from 'mailparser';
import { saveUser } from '../../src/access/users.ts';
import { reportRequest } from '../../src/campaigns/report.ts';
import { ManualClock } from '../../src/clock.ts';
import type { Chart } from '../../src/http/ui/charts.ts';
import { reportView } from '../../src/http/ui/report.ts';
import { appendConsentEvents } from '../../src/consent/ledger.ts';
import { withTransaction } from '../../src/db/tx.ts';
import { apiKeyFor } from '../helpers/keys.ts';
import { seedLeads, type SeedLead } from '../helpers/seed.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';
import { postTwilioWebhook, startTwilioServer, type TwilioServer } from '../helpers/twilio-server.ts';
import { startWeb, type TestWeb } from '../helpers/web.ts';
import { testEngine, until, type TestEngine } from '../helpers/engine.ts';

const DOMAIN = 'touchpoint.test';
const AGENT = 'demo@touchpoint.local';
const DAY = 86_400_000;

function lead(id: string, extra: Partial<SeedLead> = {}): SeedLead {
  return { id, email: `${id}@example.com`, first: id, locale: null, orders: 1, consent: ['grant', 'confirm'], ...extra };
}

/**
 * The loop of issue 15 on the shipped samples (campaigns/, templates/): replies become contacts
 * that emit events, closing a complaint starts the service recovery, two days later the survey
 * goes out, answers come by SMS digit, by link and by mail with a comment, and a flagged sales
 * opportunity starts the hand-over. Real SMTP sink, real twilio SDK against the local Twilio server.
 */
describe('closing the loop: contacts as events, satisfaction, sentiment', function () {
  this.timeout(90_000);
  let sink: SmtpSink;
  let twilio: TwilioServer;
  let web: TestWeb;
  let t: TestEngine;
  let clock: ManualClock;
  let key: string;

  before(async () => {
    sink = await startSmtpSink();
    twilio = await startTwilioServer();
    web = await startWeb();
    // A Monday, 11:00 in Berlin.
    clock = new ManualClock('2026-03-02T10:00:00Z');
    t = await testEngine(
      {
        CAMPAIGNS_DIR: path.resolve('campaigns'),
        TEMPLATES_DIR: path.resolve('templates'),
        SMTP_URL: sink.url,
        PUBLIC_URL: web.base,
        INBOUND_DOMAIN: DOMAIN,
        TWILIO_ACCOUNT_SID: twilio.accountSid,
        TWILIO_AUTH_TOKEN: twilio.authToken,
        TWILIO_FROM: '+15005550006',
        TWILIO_API_URL: twilio.url,
      },
      clock,
    );
    web.serve(t.engine);
    await saveUser(t.database.pool, { email: AGENT, role: 'service', password: 'correct horse battery', languages: ['en', 'de'] });
    key = await apiKeyFor(t.database, 'service', AGENT);
    await seedLeads(
      t.database,
      [lead('kim', { phone: '+4915112345601', preferred: 'sms' }), lead('lou'), lead('max'), lead('nia'), lead('ole')],
      clock.now(),
    );
    // Service consent (what the survey needs) on both channels; ole has withdrawn it.
    const { rows } = await t.database.pool.query<{ id: number; external_id: string }>(`SELECT id, external_id FROM leads`);
    await withTransaction(t.database.pool, (client) =>
      appendConsentEvents(
        client,
        rows.flatMap((l) =>
          (['email', 'sms'] as const).flatMap((channel) =>
            (l.external_id === 'ole' ? (['grant', 'withdraw'] as const) : (['grant'] as const)).map((action, i) => ({
              leadId: l.id,
              channel,
              purpose: 'service',
              action,
              source: 'test',
              actor: 'test',
              occurredAt: new Date(clock.now().getTime() - 600_000 + i * 60_000),
            })),
          ),
        ),
      ),
    );
    await t.engine.startDispatcher();
    // Everyone signs up: the welcome mail is what their replies answer.
    await t.engine.ingestEvents(['kim', 'lou', 'max', 'nia', 'ole'].map((l) => ({ lead: l, event: 'signed_up', properties: {} })));
    await sink.waitFor(5);
    await allSent();
  });
  after(async () => {
    await web?.close();
    await t?.close();
    await sink?.close();
    await twilio?.close();
  });

  /** Once the dispatcher recorded every message as sent: only a sent message is what a reply can answer. */
  const allSent = () =>
    until(async () => {
      const { rows } = await t.database.pool.query(`SELECT 1 FROM messages WHERE status IN ('queued', 'sending') LIMIT 1`);
      return rows.length === 0 ? true : undefined;
    });
  const mailsTo = (who: string): ParsedMail[] =>
    sink.messages.filter((m) => (m.to as AddressObject).value[0]!.address === `${who}@example.com`);
  const replyTo = (mail: ParsedMail) => (mail.replyTo as AddressObject).value[0]!.address!;
  let delivery = 0;
  const replyByMail = (who: string, to: ParsedMail, text: string) =>
    t.engine.receiveReply({
      channel: 'email',
      externalId: `<reply-${++delivery}@example.com>`,
      kind: 'human',
      from: `${who}@example.com`,
      recipients: [replyTo(to)],
      subject: `Re: ${to.subject}`,
      bodyText: text,
      text,
    });
  const api = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(`${web.base}${url}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(res.status, `${method} ${url}: ${res.status}`).to.be.below(300);
    return res.json() as Promise<Record<string, unknown>>;
  };
  const events = async (name: string) =>
    (
      await t.database.pool.query<{ lead: string; properties: Record<string, unknown>; event_key: string }>(
        `SELECT l.external_id AS lead, e.properties, e.event_key FROM events e JOIN leads l ON l.id = e.lead_id WHERE e.name = $1 ORDER BY e.id`,
        [name],
      )
    ).rows;
  const contacts: Record<string, number> = {};

  it('a complaint reply becomes a contact and emits contact_received with a negative sentiment', async () => {
    const welcome = mailsTo('kim')[0]!;
    const before = sink.messages.length;
    const received = await replyByMail('kim', welcome, 'I am very disappointed: my order arrived broken. Terrible.');
    // The sample's complaint rule acknowledges at once, saying by when Kim hears back.
    await sink.waitFor(before + 1);
    expect(mailsTo('kim').at(-1)!.subject).to.equal(`Re: ${welcome.subject}`);
    contacts.kim = received.contactId!;
    const [event] = await events('contact_received');
    expect(event).to.deep.include({ lead: 'kim', event_key: `contact:${contacts.kim}:received` });
    expect(event!.properties).to.include({
      contact: contacts.kim,
      category: 'complaint',
      priority: 'urgent',
      campaign: 'welcome',
      step: 'hello',
      queue: 'general',
      channel: 'email',
    });
    expect(event!.properties.sentiment).to.be.below(-0.05);
    const shown = await api('GET', `/api/v1/inbound/${contacts.kim}`);
    expect(shown.sentiment).to.equal(event!.properties.sentiment);
  });

  it('closing the complaint, flagging nothing, sends the service recovery message at once', async () => {
    const before = sink.messages.length;
    await api('POST', `/api/v1/inbound/${contacts.kim}/close`, { resolution: 'replacement sent' });
    await sink.waitFor(before + 1);
    expect(mailsTo('kim').at(-1)!.subject).to.equal('kim, we are sorry — this one is on us');
    const [closed] = await events('contact_closed');
    expect(closed).to.deep.include({ lead: 'kim', event_key: `contact:${contacts.kim}:closed:1` });
    expect(closed!.properties).to.include({
      contact: contacts.kim,
      queue: 'general',
      category: 'complaint',
      resolution: 'replacement sent',
      handled_by: AGENT,
    });
    expect(await events('sales_opportunity')).to.deep.equal([]);
  });

  it('other contacts close too: a question (no recovery), one flagged as a sales opportunity, one of an opted-out person', async () => {
    const before = sink.messages.length;
    for (const [who, text] of [
      ['lou', 'Can I change the delivery address?'],
      ['max', 'Do you have this in blue?'],
      ['nia', 'Where is my parcel?'],
      ['ole', 'When do you open?'],
    ] as const) {
      contacts[who] = (await replyByMail(who, mailsTo(who)[0]!, text)).contactId!;
    }
    // Max's contact is handled by the retention desk: a comment with his answer goes back there.
    await api('POST', `/api/v1/inbound/${contacts.max}/assign`, { queue: 'retention' });
    await api('POST', `/api/v1/inbound/${contacts.max}/close`, {
      resolution: 'answered',
      sales_opportunity: { note: 'wants the blue edition', product: 'Blue Edition' },
    });
    for (const who of ['lou', 'nia', 'ole']) await api('POST', `/api/v1/inbound/${contacts[who]}/close`, { resolution: 'answered' });
    // The sales hand-over is the only message now: questions get no service recovery.
    await sink.waitFor(before + 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.messages.slice(before).map((m) => [(m.to as AddressObject).value[0]!.address, m.subject])).to.deep.equal([
      ['max@example.com', 'max, about Blue Edition'],
    ]);
    const [sales] = await events('sales_opportunity');
    expect(sales).to.deep.include({ lead: 'max', event_key: `contact:${contacts.max}:sales:1` });
    expect(sales!.properties).to.include({ note: 'wants the blue edition', product: 'Blue Edition', queue: 'retention' });
  });

  it('two days later the survey goes out on each person’s channel, except to who withdrew service consent', async () => {
    const mails = sink.messages.length;
    clock.advance(2 * DAY + 60_000);
    await t.engine.advanceSequences();
    await until(async () => (twilio.messages.length >= 1 ? true : undefined));
    // The welcome series' second step is due now as well; the surveys are the mails asking how we did.
    const surveys = () => sink.messages.slice(mails).filter((m) => m.subject?.startsWith('How did we do'));
    await until(async () => (surveys().length >= 3 ? true : undefined));
    expect(twilio.messages.map((m) => m.to)).to.deep.equal(['+4915112345601']);
    expect(twilio.messages[0]!.body).to.match(/Reply 1 \(not at all\) to 5 \(very\), or tap http:\/\/127\.0\.0\.1:\d+\/csat\//);
    const surveyed = surveys().map((m) => (m.to as AddressObject).value[0]!.address);
    expect(surveyed.sort()).to.deep.equal(['lou@example.com', 'max@example.com', 'nia@example.com']);
    await allSent();
    const { rows } = await t.database.pool.query(
      `SELECT l.external_id AS lead, m.status, m.reason FROM messages m JOIN leads l ON l.id = m.lead_id
        WHERE m.campaign_id = 'csat-survey' AND l.external_id = 'ole'`,
    );
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ status: 'suppressed' });
  });

  it('"2" by SMS answers Kim’s survey (no new contact); "5" by link answers Lou’s; a forged link is refused', async () => {
    const before = (await t.database.pool.query(`SELECT count(*)::int AS n FROM inbound_contacts`)).rows[0].n as number;
    const url = `${web.base}/webhooks/twilio/sms`;
    const res = await postTwilioWebhook(url, twilio.authToken, {
      MessageSid: `SM${'2'.repeat(32)}`,
      From: '+4915112345601',
      To: '+15005550006',
      Body: '2',
    });
    expect(res.status).to.equal(200);

    const survey = mailsTo('lou').find((m) => m.subject?.startsWith('How did we do'))!;
    const link = /http:\/\/127\.0\.0\.1:\d+\/csat\/[A-Za-z0-9_.-]+/.exec(survey.text!)![0];
    const page = await fetch(link);
    expect(page.status).to.equal(200);
    expect((await page.text()).match(/name="score"/g)).to.have.length(5);
    const answered = await fetch(link, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'score=5',
    });
    expect(answered.status).to.equal(200);
    expect(await answered.text()).to.contain('You answered 5 of 5');

    const [body, signature] = link.split('/csat/')[1]!.split('.');
    const forgedBody = Buffer.from(JSON.stringify({ kind: 'csat', contact: contacts.kim, lead: 1 })).toString('base64url');
    const forged = await fetch(`${web.base}/csat/${forgedBody}.${signature}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'score=1',
    });
    expect(forged.status).to.equal(400);
    expect(await forged.text()).to.contain('This survey link is not valid');
    expect(body).to.be.a('string');

    const { rows } = await t.database.pool.query(
      `SELECT c.id AS contact, a.score, a.via, a.comment, a.queue, a.campaign_id, a.step_id, u.email AS agent
         FROM csat_answers a JOIN inbound_contacts c ON c.id = a.contact_id LEFT JOIN users u ON u.id = a.agent_id ORDER BY a.answered_at, c.id`,
    );
    expect(rows).to.deep.equal([
      {
        contact: contacts.kim,
        score: 2,
        via: 'sms',
        comment: null,
        queue: 'general',
        campaign_id: 'welcome',
        step_id: 'hello',
        agent: AGENT,
      },
      {
        contact: contacts.lou,
        score: 5,
        via: 'link',
        comment: null,
        queue: 'general',
        campaign_id: 'welcome',
        step_id: 'hello',
        agent: AGENT,
      },
    ]);
    expect((await t.database.pool.query(`SELECT count(*)::int AS n FROM inbound_contacts`)).rows[0].n).to.equal(before);
    expect((await events('csat_answered')).map((e) => [e.lead, e.properties.score])).to.deep.equal([
      ['kim', 2],
      ['lou', 5],
    ]);
  });

  it('an answer with a comment is stored and the comment becomes a contact in the queue that handled the original', async () => {
    const survey = mailsTo('max').find((m) => m.subject?.startsWith('How did we do'))!;
    const received = await replyByMail('max', survey, '3 - friendly, but it took three days');
    expect(received.csat).to.equal(true);
    const comment = await api('GET', `/api/v1/inbound/${received.contactId}`);
    expect(comment).to.include({ queue: 'retention', lead: 'max', campaign: 'csat-survey' });
    const original = await api('GET', `/api/v1/inbound/${contacts.max}`);
    expect(original.csat).to.deep.include({ score: 3, via: 'email', comment: 'friendly, but it took three days' });
  });

  it('reports satisfaction per queue, agent and campaign', async () => {
    const report = (await api('GET', '/api/v1/reports/csat')) as unknown as Record<string, Record<string, unknown>[]>;
    const line = (dimension: string, key: string) => report[dimension]!.find((l) => l.key === key);
    // Surveyed: kim, lou, nia (general), max (retention); ole's survey was suppressed. Answered: kim 2, lou 5, max 3.
    expect(line('queue', 'general')).to.deep.equal({
      key: 'general',
      surveyed: 3,
      answered: 2,
      response_rate: 0.667,
      average: 3.5,
      distribution: [0, 1, 0, 0, 1],
    });
    expect(line('queue', 'retention')).to.include({ surveyed: 1, answered: 1, average: 3 });
    expect(line('campaign', 'welcome')).to.deep.include({ surveyed: 4, answered: 3, response_rate: 0.75, average: 3.33 });
    expect(line('agent', AGENT)).to.include({ answered: 3 });
    // The CLI prints the same figures.
    const printed = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['bin/touchpoint.js', 'csat'], { env: { ...process.env, ...t.env, LOG_LEVEL: 'error' } }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
    expect(printed).to.match(/general\s+3\s+2\s+67%\s+3\.50\s+0\s+1\s+0\s+0\s+1/);
    expect(printed).to.match(/welcome\s+4\s+3\s+75%\s+3\.33\s+0\s+1\s+1\s+0\s+1/);
  });

  it('the campaign report draws sentiment and satisfaction per step beside the funnel', async () => {
    const set = t.engine.loadCampaigns();
    const report = await t.engine.campaigns.report(reportRequest(set, 'welcome', null));
    // Five replies to the welcome mail (one complaint, four questions); three answers: 2, 5 and 3.
    const kim = (await events('contact_received'))[0]!.properties.sentiment as number;
    const others = await t.database.pool.query<{ sum: number }>(
      `SELECT sum(sentiment)::float AS sum FROM inbound_contacts WHERE campaign_id = 'welcome' AND id <> $1`,
      [contacts.kim],
    );
    expect(report.emotion).to.deep.equal([
      {
        step: 'hello',
        replies: 5,
        sentiment: Math.round(((kim + others.rows[0]!.sum) / 5) * 1000) / 1000,
        csat_answers: 3,
        csat: 3.33,
      },
    ]);
    expect(report.emotion[0]!.sentiment).to.be.below(0);
    const view = await reportView({ id: 'welcome' }, null, report, []);
    const chart = (view.charts as Chart[]).find((c) => c.id === 'emotion')!;
    expect(chart.svg).to.contain('reply sentiment (-1…1)').and.to.contain('satisfaction (1…5)').and.to.contain('n=3');
  });

  it('nobody is surveyed twice within 30 days: Lou’s next closed contact gets no survey', async () => {
    const next = await replyByMail('lou', mailsTo('lou')[0]!, 'One more question: do you ship to Austria?');
    await api('POST', `/api/v1/inbound/${next.contactId}/close`, { resolution: 'yes' });
    expect((await events('contact_closed')).filter((e) => e.lead === 'lou')).to.have.length(2);
    clock.advance(2 * DAY + 60_000);
    await t.engine.advanceSequences();
    const { rows } = await t.database.pool.query(
      `SELECT count(*)::int AS n FROM messages m JOIN leads l ON l.id = m.lead_id WHERE m.campaign_id = 'csat-survey' AND l.external_id = 'lou'`,
    );
    expect(rows[0].n).to.equal(1);
  });

  it('Kim complains again nine days after the first: a repeat contact, offered to the agent who had it, in the repeat rate', async () => {
    clock.advance(5 * DAY);
    const again = await replyByMail('kim', mailsTo('kim')[0]!, 'Broken again. I am disappointed.');
    const [first, repeat] = await Promise.all([
      api('GET', `/api/v1/inbound/${contacts.kim}`),
      api('GET', `/api/v1/inbound/${again.contactId}`),
    ]);
    expect(repeat).to.include({ repeat_of: contacts.kim, category: 'complaint', assignee_id: first.assignee_id });
    const report = await t.engine.campaigns.report(reportRequest(t.engine.loadCampaigns(), 'welcome', null));
    // The welcome mail's contacts: Kim's complaint, four questions (Lou's second one reopened his), and this one.
    expect(report.repeat_rate).to.deep.equal({ contacts: 6, repeats: 1, rate: 0.167 });
  });
});
