import path from 'node:path';
import { expect } from 'chai';
import type { SendMailOptions } from 'nodemailer';
import type { AddressObject, ParsedMail } from 'mailparser';
import { saveUser } from '../../src/access/users.ts';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { reportRequest } from '../../src/campaigns/report.ts';
import { ManualClock } from '../../src/clock.ts';
import { getContact, listContacts } from '../../src/inbound/contacts.ts';
import { acceptContact, closeContact } from '../../src/inbound/workflow.ts';
import { startInboundSmtp, type InboundSmtp } from '../../src/inbound/smtp-listener.ts';
import { testEngine, until, type TestEngine } from '../helpers/engine.ts';
import { seedLeads, type SeedLead } from '../helpers/seed.ts';
import { deliverMail, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const FIXTURE = path.resolve('test/fixtures/inbound');
const DOMAIN = 'touchpoint.test';
/** An admin's reach: every reply's words. */
const EVERY_QUEUE = { queues: null, userId: null };

function lead(id: string, extra: Partial<SeedLead> = {}): SeedLead {
  return { id, email: `${id}@example.com`, first: id, locale: null, orders: 1, consent: ['grant', 'confirm'], ...extra };
}

describe('replies become inbound contacts', function () {
  this.timeout(60_000);
  let sink: SmtpSink;
  let t: TestEngine;
  let clock: ManualClock;
  let inbound: InboundSmtp;

  beforeEach(async () => {
    sink = await startSmtpSink();
    // A Monday, 11:00 in Berlin.
    clock = new ManualClock('2026-03-02T10:00:00Z');
    t = await testEngine(
      {
        CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'),
        TEMPLATES_DIR: path.join(FIXTURE, 'templates'),
        SMTP_URL: sink.url,
        PUBLIC_URL: `https://${DOMAIN}`,
      },
      clock,
    );
    inbound = await startInboundSmtp({
      ...t.config.inbound,
      host: '127.0.0.1',
      port: 0,
      domain: DOMAIN,
      maxBytes: 1024 * 1024,
      receive: t.engine.receiveReply,
    });
    for (const [email, languages] of [
      ['ann@example.com', ['en']],
      ['bob@example.com', ['de', 'en']],
      ['lena@example.com', ['en']],
    ] as const) {
      await saveUser(t.database.pool, { email, role: 'service', password: 'correct horse battery', languages: [...languages] });
    }
    await seedLeads(t.database, [lead('alice'), lead('bert', { locale: 'de-DE' }), lead('carol')], clock.now());
    await t.engine.startDispatcher();
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'followup'), set, { occurrence: 'o', trigger: 'manual' });
    await sink.waitFor(3);
  });
  afterEach(async () => {
    await inbound.close();
    await t.close();
    await sink.close();
  });

  const sentTo = (lead: string): ParsedMail =>
    sink.messages.find((m) => (m.to as AddressObject).value[0]!.address === `${lead}@example.com`)!;

  const deliver = (mail: SendMailOptions) => deliverMail(inbound.port, mail);

  async function contacts() {
    const { rows } = await t.database.pool.query(
      `SELECT c.identified_by, c.trust, l.external_id AS lead, c.campaign_id, c.step_id, c.template, c.kind, c.category, c.priority, c.queue, c.status, u.email AS assignee
         FROM inbound_contacts c LEFT JOIN leads l ON l.id = c.lead_id LEFT JOIN users u ON u.id = c.assignee_id ORDER BY c.id`,
    );
    return rows;
  }

  it('every campaign email carries a signed reply address and a signed Message-ID naming it', () => {
    const mail = sentTo('alice');
    const replyTo = (mail.replyTo as AddressObject).value[0]!.address!;
    expect(replyTo).to.match(new RegExp(`^reply\\+[0-9a-z]+-[0-9a-f]{20}@${DOMAIN}$`));
    expect(mail.messageId).to.match(new RegExp(`^<message\\+[0-9a-z]+-[0-9a-f]{20}@${DOMAIN}>$`));
    expect(new Set(sink.messages.map((m) => (m.replyTo as AddressObject).value[0]!.address))).to.have.property('size', 3);
  });

  it('identifies replies by token, by headers and by address; an unknown sender stays unidentified', async () => {
    const alice = sentTo('alice');
    const bert = sentTo('bert');
    // Alice answers from another address: the token in the reply address still names her message.
    await deliver({
      from: 'alice.private@example.net',
      to: (alice.replyTo as AddressObject).value[0]!.address!,
      subject: `Re: ${alice.subject}`,
      text: 'Is this valid for shoes too?',
    });
    // Bert's client drops Reply-To and writes to the public address, but threads with In-Reply-To.
    await deliver({
      from: 'bert@example.com',
      to: `hello@${DOMAIN}`,
      subject: `Re: ${bert.subject}`,
      text: 'Was ist der price?',
      inReplyTo: bert.messageId,
      references: [bert.messageId!],
    });
    await deliver({ from: 'Carol <CAROL@example.com>', to: `hello@${DOMAIN}`, subject: 'Question', text: 'Where is my parcel?' });
    await deliver({ from: 'stranger@example.org', to: `hello@${DOMAIN}`, subject: 'Hello', text: 'Who are you?' });

    expect(await contacts()).to.deep.equal([
      {
        identified_by: 'token',
        trust: 'verified',
        lead: 'alice',
        campaign_id: 'followup',
        step_id: 'offer',
        template: 'offer/default.email.hbs',
        kind: 'human',
        category: 'other',
        priority: 'normal',
        queue: 'retention',
        status: 'assigned',
        assignee: 'ann@example.com',
      },
      {
        identified_by: 'headers',
        trust: 'verified',
        lead: 'bert',
        campaign_id: 'followup',
        step_id: 'offer',
        template: 'offer/default.email.hbs',
        kind: 'human',
        category: 'purchase-interest',
        priority: 'normal',
        queue: 'retention',
        status: 'assigned',
        assignee: 'bob@example.com',
      },
      {
        identified_by: 'address',
        trust: 'unverified',
        lead: 'carol',
        campaign_id: null,
        step_id: null,
        template: null,
        kind: 'human',
        category: 'other',
        priority: 'normal',
        queue: 'general',
        status: 'assigned',
        assignee: 'ann@example.com',
      },
      {
        identified_by: null,
        trust: null,
        lead: null,
        campaign_id: null,
        step_id: null,
        template: null,
        kind: 'human',
        category: 'other',
        priority: 'normal',
        queue: 'general',
        status: 'assigned',
        assignee: 'ann@example.com',
      },
    ]);
    // The reply is in the lead's one history, beside the message it answers.
    const [first] = await listContacts(t.database.pool, { lead: 'alice' }, clock.now());
    const detail = await getContact(t.database.pool, first!.id, clock.now(), EVERY_QUEUE);
    expect(detail.original?.subject).to.equal('An offer for alice');
    expect(detail.timeline.map((e) => e.kind)).to.include.members(['reply', 'message', 'consent']);
  });

  it('refuses a message over the size limit at the SMTP level, storing nothing', async () => {
    const err = await deliver({ from: 'alice@example.com', to: `hello@${DOMAIN}`, subject: 'big', text: 'x'.repeat(1_200_000) }).catch(
      (e: { responseCode?: number }) => e,
    );
    expect(err).to.have.property('responseCode', 552);
    const refused = await deliver({ from: 'alice@example.com', to: 'someone@elsewhere.example', subject: 'relay?', text: 'hi' }).catch(
      (e: { responseCode?: number }) => e,
    );
    expect(refused).to.have.property('responseCode', 550);
    expect(await contacts()).to.deep.equal([]);
  });

  it('a forged or altered token identifies nobody by token', async () => {
    const address = (sentTo('alice').replyTo as AddressObject).value[0]!.address!;
    const forged = address.replace(/-([0-9a-f])/, (_, c: string) => `-${c === '0' ? '1' : '0'}`);
    await deliver({ from: 'someone@example.org', to: forged, subject: 'hi', text: 'hello' });
    const [contact] = await contacts();
    expect(contact).to.include({ identified_by: null, lead: null, campaign_id: null });
  });

  it('an out-of-office answer or a bounce is kept but is not a human reply', async () => {
    const alice = sentTo('alice');
    const to = (alice.replyTo as AddressObject).value[0]!.address!;
    await deliver({
      from: 'alice@example.com',
      to,
      subject: 'Out of Office: back on Monday',
      text: 'I am away.',
      headers: { 'Auto-Submitted': 'auto-replied' },
    });
    await deliver({
      from: 'alice@example.com',
      to,
      subject: 'Automatic reply: An offer',
      text: 'I am away.',
      headers: { 'X-Autoreply': 'yes' },
    });
    await deliver({
      envelope: { from: '', to },
      from: 'MAILER-DAEMON@mx.example.com',
      to,
      subject: 'Undelivered Mail Returned to Sender',
      text: 'The mail system could not deliver.',
    });
    const all = await contacts();
    expect(all.map((c) => [c.kind, c.status, c.queue, c.assignee])).to.deep.equal([
      ['auto-reply', 'closed', null, null],
      ['auto-reply', 'closed', null, null],
      ['bounce', 'closed', null, null],
    ]);
    expect(await listContacts(t.database.pool, {}, clock.now())).to.deep.equal([]);
    const { rows } = await t.database.pool.query(`SELECT replied_at FROM enrollments`);
    expect(rows.every((r) => r.replied_at === null)).to.equal(true);
  });

  it('an opt-out reply withdraws consent and stops the next step; a human reply skips `unless: [replied]`', async () => {
    await deliver({
      from: 'alice@example.com',
      to: (sentTo('alice').replyTo as AddressObject).value[0]!.address!,
      subject: 'Re: offer',
      text: 'Please remove me from this list.\n\n> An offer for alice',
    });
    await deliver({
      from: 'bert@example.com',
      to: (sentTo('bert').replyTo as AddressObject).value[0]!.address!,
      subject: 'Re: offer',
      text: 'What is the price of the blue one?',
    });
    const [alice, bert] = await contacts();
    expect(alice).to.include({ category: 'opt-out', priority: 'high' });
    expect(bert).to.include({ category: 'purchase-interest' });
    const { rows: consent } = await t.database.pool.query(
      `SELECT s.status, e.source FROM consent_state s JOIN consent_events e ON e.id = s.deciding_event_id JOIN leads l ON l.id = s.lead_id
        WHERE l.external_id = 'alice' AND s.channel = 'email' AND s.purpose = 'marketing'`,
    );
    expect(consent).to.deep.equal([{ status: 'withdrawn', source: 'reply-opt-out' }]);

    clock.advance(2 * 86_400_000 + 60_000);
    await t.engine.advanceSequences();
    const { rows } = await t.database.pool.query(
      `SELECT l.external_id AS lead, m.status, m.reason FROM messages m JOIN leads l ON l.id = m.lead_id WHERE m.step_id = 'reminder' ORDER BY l.external_id`,
    );
    expect(rows.map((r) => [r.lead, r.reason ?? r.status])).to.deep.equal([
      ['alice', 'withdrawn'],
      ['bert', 'replied'],
      ['carol', 'queued'],
    ]);
    // The campaign learns what came back, in counts.
    const report = await t.engine.campaigns.report(reportRequest(t.engine.loadCampaigns(), 'followup', 'o'));
    expect(report.steps[0]).to.include({ step: 'offer', opt_outs: 1 });
    expect(report.steps[0]!.replies).to.deep.equal({ 'opt-out': 1, 'purchase-interest': 1 });
  });

  it('a reply on the same campaign joins the open contact; one after a closed week is a repeat, in the campaign report', async () => {
    const alice = sentTo('alice');
    const write = (text: string) =>
      deliver({
        from: 'alice@example.com',
        to: (alice.replyTo as AddressObject).value[0]!.address!,
        subject: `Re: ${alice.subject}`,
        text,
      });
    await write('Is this valid for shoes too?');
    await write('And for boots?');
    const [first, ...none] = await listContacts(t.database.pool, {}, clock.now());
    expect(none).to.deep.equal([]);
    const joined = await getContact(t.database.pool, first!.id, clock.now(), EVERY_QUEUE);
    expect(joined.follow_ups.map((m) => [m.channel, m.text])).to.deep.equal([['email', 'And for boots?']]);
    await closeContact(t.database.pool, async () => undefined, first!.id, { resolution: 'answered' }, { label: 'test' }, clock.now());

    clock.advance(8 * 86_400_000);
    await write('Is it valid for sandals?');
    const all = await listContacts(t.database.pool, {}, clock.now());
    expect(all).to.have.length(2);
    const repeat = await getContact(t.database.pool, all.find((c) => c.id !== first!.id)!.id, clock.now(), EVERY_QUEUE);
    expect(repeat).to.include({ repeat_of: first!.id, assignee: 'ann@example.com', status: 'assigned' });

    const report = await t.engine.campaigns.report(reportRequest(t.engine.loadCampaigns(), 'followup', 'o'));
    expect(report.repeat_rate).to.deep.equal({ contacts: 2, repeats: 1, rate: 0.5 });
    const rates = await t.engine.inbox.repeatRates({ from: new Date('2026-03-01T00:00:00Z'), to: new Date(clock.now().getTime() + 1) });
    expect(rates.by_campaign).to.deep.equal([{ campaign: 'followup', contacts: 2, repeats: 1, rate: 0.5 }]);
    expect(rates.by_queue).to.deep.equal([{ queue: 'retention', contacts: 2, repeats: 1, rate: 0.5 }]);
  });

  it('escalates a contact nobody accepted by its due time (4 business hours) exactly once', async () => {
    await deliver({
      from: 'alice@example.com',
      to: (sentTo('alice').replyTo as AddressObject).value[0]!.address!,
      subject: 'Re',
      text: 'Hello?',
    });
    await deliver({
      from: 'bert@example.com',
      to: (sentTo('bert').replyTo as AddressObject).value[0]!.address!,
      subject: 'Re',
      text: 'Hallo?',
    });
    const [alice, bert] = await listContacts(t.database.pool, {}, clock.now());
    // Received 11:00 Berlin on a Monday: due 15:00 Berlin (14:00Z).
    expect(alice!.due_at!.toISOString()).to.equal('2026-03-02T14:00:00.000Z');
    await acceptContact(t.database.pool, bert!.id, { label: 'user:bob@example.com' }, clock.now());

    clock.set('2026-03-02T13:59:00Z');
    expect(await t.engine.escalateOverdue()).to.deep.equal([]);
    clock.set('2026-03-02T14:00:00Z');
    expect(await t.engine.escalateOverdue()).to.deep.equal([alice!.id]);
    clock.advance(3_600_000);
    expect(await t.engine.escalateOverdue()).to.deep.equal([]);

    const detail = await getContact(t.database.pool, alice!.id, clock.now(), EVERY_QUEUE);
    expect(detail.history.filter((h) => h.action === 'escalated')).to.have.length(1);
    expect(detail.history.find((h) => h.action === 'escalated')!.detail).to.deep.equal({ to: 'lena@example.com', queue: 'retention' });
    const mine = await listContacts(t.database.pool, { mine: await userId('lena@example.com') }, clock.now());
    expect(mine.map((c) => c.id)).to.deep.equal([alice!.id]);
    expect(mine[0]!.overdue).to.equal(true);
  });

  async function userId(email: string): Promise<number> {
    return until(
      async () => Number((await t.database.pool.query(`SELECT id FROM users WHERE email = $1`, [email])).rows[0]?.id) || undefined,
    );
  }
});
