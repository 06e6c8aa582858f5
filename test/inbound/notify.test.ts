import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { AddressObject } from 'mailparser';
import { saveUser } from '../../src/access/users.ts';
import { ManualClock } from '../../src/clock.ts';
import type { ReachableContact } from '../../src/inbound/reach.ts';
import { parseInboundEmail } from '../../src/inbound/email.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { seedLeads } from '../helpers/seed.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const PASSWORD = 'correct horse battery';
const SECRET_WORDS = 'My account number is 4711 and I want to cancel';

/**
 * Agent notifications: an email on assignment and on escalation, through a real SMTP server, once
 * each, kept through an outage of that server, off for people who turned them off, with a link to
 * the contact and never the words of the reply; an agent answering one is no customer's reply.
 */
describe('agent notifications by email', function () {
  this.timeout(60_000);
  const clock = new ManualClock('2026-11-02T08:00:00Z');
  let sink: SmtpSink;
  let t: TestEngine;
  let port: number;
  let contact: number;
  const admin = { label: 'user:admin@example.com' };

  before(async () => {
    sink = await startSmtpSink();
    port = Number(new URL(sink.url).port);
    t = await testEngine(
      {
        CAMPAIGNS_DIR: path.resolve('test/fixtures/desk/campaigns'),
        TEMPLATES_DIR: path.resolve('test/fixtures/inbound/templates'),
        SMTP_URL: sink.url,
        PUBLIC_URL: 'https://desk.example.com',
      },
      clock,
    );
    for (const email of ['ann@example.com', 'gus@example.com', 'lena@example.com'])
      await saveUser(t.database.pool, { email, role: 'service', password: PASSWORD });
    await t.engine.access.setNotify('gus@example.com', false);
    await seedLeads(t.database, [{ id: 'pat', email: 'pat@example.com', first: 'Pat', locale: null, orders: 1, consent: [] }]);
    const mail = `From: pat@example.com\r\nTo: hello@desk.example.com\r\nSubject: Cancel\r\nMessage-ID: <c1@example.com>\r\n\r\n${SECRET_WORDS}\r\n`;
    contact = (await t.engine.receiveReply(await parseInboundEmail(Buffer.from(mail))))!.contactId!;
  });
  after(async () => {
    await t?.close();
    await sink?.close();
  });

  const rows = async () =>
    (
      await t.database.pool.query<{ to_address: string; kind: string; status: string; attempts: number }>(
        `SELECT to_address, kind, status, attempts FROM agent_notifications ORDER BY id`,
      )
    ).rows;

  it('emails the person a new contact is pushed to, once, with a link and without the reply’s words', async () => {
    expect(await t.engine.sendNotifications()).to.equal(1);
    expect(await t.engine.sendNotifications()).to.equal(0);
    await sink.waitFor(1);
    const [sent] = sink.messages;
    expect((sent!.to as AddressObject).value[0]!.address).to.equal('ann@example.com');
    expect(sent!.subject).to.equal(`Contact ${contact} assigned to you (queue retention, priority normal)`);
    expect(sent!.text).to.contain(`https://desk.example.com/inbox/${contact}`);
    expect(sent!.headers.get('x-touchpoint-purpose')).to.equal('service-notification');
    expect(JSON.stringify(sent)).not.to.contain('4711').and.not.to.contain('account number');
    expect(await rows()).to.deep.equal([{ to_address: 'ann@example.com', kind: 'assigned', status: 'sent', attempts: 1 }]);
  });

  it('is off for people who turned it off, and not sent to whoever assigns a contact to themselves', async () => {
    const id = contact as ReachableContact;
    await t.engine.inbox.assign(id, { user: 'gus@example.com' }, admin);
    const ann = (await t.engine.access.findActiveUser('ann@example.com'))!;
    await t.engine.inbox.assign(id, { user: 'ann@example.com' }, { label: 'user:ann@example.com', userId: ann.id });
    expect(await t.engine.sendNotifications()).to.equal(0);
    expect(await rows()).to.have.length(1);
  });

  it('keeps a notification through an SMTP outage and sends it once the server is back', async () => {
    await sink.close();
    await t.engine.inbox.assign(contact as ReachableContact, { user: 'lena@example.com' }, admin);
    expect(await t.engine.sendNotifications()).to.equal(0);
    expect((await rows())[1]).to.include({ to_address: 'lena@example.com', status: 'queued', attempts: 1 });
    sink = await startSmtpSink({ port });
    // Its retry waits a minute.
    expect(await t.engine.sendNotifications()).to.equal(0);
    clock.advance(61_000);
    expect(await t.engine.sendNotifications()).to.equal(1);
    await sink.waitFor(1);
    expect((sink.messages[0]!.to as AddressObject).value[0]!.address).to.equal('lena@example.com');
    expect((await rows())[1]).to.include({ status: 'sent', attempts: 2 });
  });

  it('emails the queue lead on escalation', async () => {
    await t.engine.inbox.assign(contact as ReachableContact, { queue: 'retention' }, admin);
    await t.engine.sendNotifications();
    const before = sink.messages.length;
    clock.advance(5 * 3_600_000);
    expect(await t.engine.escalateOverdue()).to.deep.equal([contact]);
    expect(await t.engine.sendNotifications()).to.equal(1);
    await sink.waitFor(before + 1);
    const escalated = sink.messages.at(-1)!;
    expect((escalated.to as AddressObject).value[0]!.address).to.equal('lena@example.com');
    expect(escalated.subject).to.match(new RegExp(`^Contact ${contact} escalated to you`));
  });

  it('an agent answering a notification is not taken for a reply to a customer’s message', async () => {
    const notification = sink.messages.at(-1)!;
    const reply = `From: lena@example.com\r\nTo: hello@desk.example.com\r\nSubject: Re: ${notification.subject}\r\nMessage-ID: <n1@example.com>\r\nIn-Reply-To: ${notification.messageId}\r\n\r\nunsubscribe\r\n`;
    const id = (await t.engine.receiveReply(await parseInboundEmail(Buffer.from(reply))))!.contactId!;
    const { rows: found } = await t.database.pool.query(`SELECT identified_by, message_id FROM inbound_contacts WHERE id = $1`, [id]);
    expect(found[0]).to.deep.equal({ identified_by: null, message_id: null });
  });
});

describe('agent notifications without a mail server', function () {
  this.timeout(30_000);

  it('land in an outbox folder of their own, never in place of a message’s file', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'notify-outbox-'));
    const t = await testEngine({ CAMPAIGNS_DIR: path.resolve('test/fixtures/desk/campaigns'), TOUCHPOINT_DATA_DIR: dataDir });
    try {
      await saveUser(t.database.pool, { email: 'ann@example.com', role: 'service', password: PASSWORD });
      const mail = `From: x@example.org\r\nTo: hello@example.com\r\nSubject: Cancel\r\nMessage-ID: <o1@example.com>\r\n\r\ncancel\r\n`;
      const contact = (await t.engine.receiveReply(await parseInboundEmail(Buffer.from(mail))))!.contactId!;
      expect(await t.engine.sendNotifications()).to.equal(1);
      const file = path.join(dataDir, 'outbox', 'agent-notifications', 'message-1.eml');
      expect(fs.readFileSync(file, 'utf8')).to.contain(`Contact ${contact} assigned to you`);
      expect(fs.existsSync(path.join(dataDir, 'outbox', 'message-1.eml'))).to.equal(false);
    } finally {
      await t.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
