import path from 'node:path';
import { expect } from 'chai';
import type { AddressObject } from 'mailparser';
import { loadCampaignSet } from '../../src/campaigns/load.ts';
import { ManualClock } from '../../src/clock.ts';
import { parseInboundEmail } from '../../src/inbound/email.ts';
import { formatProblem } from '../../src/yaml/problems.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { seedLeads } from '../helpers/seed.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const FIXTURE = path.resolve('test/fixtures/acknowledge');
// Friday 15:00 in Berlin: four business hours later is Monday 11:00.
const FRIDAY = new Date('2026-11-06T14:00:00Z');

/**
 * The acknowledgement a rule asks for: sent at once through the outbox and a real SMTP server, in
 * the person's language, saying by when they hear from us (the due time from the queue's service
 * level and business hours); never to automatic replies, never twice a day, never for an opt-out.
 */
describe('acknowledgements of inbound contacts', function () {
  this.timeout(60_000);
  const clock = new ManualClock(FRIDAY);
  let sink: SmtpSink;
  let t: TestEngine;

  before(async () => {
    sink = await startSmtpSink();
    t = await testEngine(
      { CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'), TEMPLATES_DIR: path.join(FIXTURE, 'templates'), SMTP_URL: sink.url },
      clock,
    );
    await seedLeads(
      t.database,
      [
        { id: 'ada', email: 'ada@example.com', first: 'Ada', locale: 'en', orders: 1, consent: [] },
        { id: 'bea', email: 'bea@example.com', first: 'Bea', locale: 'de', timezone: 'Europe/Vienna', orders: 1, consent: [] },
        { id: 'cy', email: 'cy@example.com', first: 'Cy', locale: null, orders: 1, consent: [] },
      ],
      new Date(FRIDAY.getTime() - 86_400_000),
    );
    await t.engine.startDispatcher();
  });
  after(async () => {
    await t?.close();
    await sink?.close();
  });

  let n = 0;
  const receive = async (from: string, text: string, headers = '') => {
    const raw = `From: ${from}\r\nTo: hello@127.0.0.1\r\nSubject: My order\r\nMessage-ID: <m${++n}@example.com>\r\n${headers}\r\n${text}\r\n`;
    return (await t.engine.receiveReply(await parseInboundEmail(Buffer.from(raw))))!.contactId!;
  };
  const acknowledgements = async () =>
    (
      await t.database.pool.query<{ to_address: string; purpose: string }>(
        `SELECT to_address, purpose FROM messages WHERE step_id = 'acknowledgement' ORDER BY id`,
      )
    ).rows;

  it('tells the person, in their language, by when they will hear back, with the built-in words or a canned answer', async () => {
    await receive('bea@example.com', 'Das Paket kam kaputt an.');
    await receive('ada@example.com', 'When does my order ship?');
    await sink.waitFor(2);
    const byTo = (address: string) => sink.messages.find((m) => (m.to as AddressObject).value[0]!.address === address)!;
    const bea = byTo('bea@example.com');
    // Bea lives in Vienna: Monday 11:00 in Berlin is 11:00 there too, said in German.
    expect(bea.text).to.contain('Vielen Dank für Ihre Nachricht').and.contain('Montag, 9. November').and.contain('11:00');
    expect(bea.subject).to.equal('Re: My order');
    expect(bea.headers.get('auto-submitted')).to.equal('auto-replied');
    expect(bea.inReplyTo).to.equal('<m1@example.com>');
    const ada = byTo('ada@example.com');
    expect(ada.text).to.match(/^Hi Ada, your question reached Customer care\. You will have an answer by Monday, November 9/);
    expect(await acknowledgements()).to.deep.equal([
      { to_address: 'bea@example.com', purpose: 'service-reply' },
      { to_address: 'ada@example.com', purpose: 'service-reply' },
    ]);
  });

  it('never answers automatic replies, an opt-out request, a stranger, or a message that joins a conversation', async () => {
    await receive('cy@example.com', 'Is this broken?', 'Auto-Submitted: auto-replied\r\n');
    await receive('cy@example.com', 'It is broken.', 'Precedence: bulk\r\n');
    await receive('cy@example.com', 'Please unsubscribe me, it is broken.');
    await receive('stranger@example.org', 'My thing is broken');
    // Ada writing again the same day joins her open contact: she was told already.
    await receive('ada@example.com', 'Another question?');
    expect((await acknowledgements()).map((a) => a.to_address)).to.deep.equal(['bea@example.com', 'ada@example.com']);
    // Four days later it is a matter of its own (thread.ts), answered again.
    clock.advance(4 * 24 * 3_600_000);
    await receive('ada@example.com', 'And a third question?');
    expect((await acknowledgements()).map((a) => a.to_address)).to.deep.equal(['bea@example.com', 'ada@example.com', 'ada@example.com']);
  });

  it('validate names an acknowledgement that is no canned answer, at its line', () => {
    const broken = path.resolve('test/fixtures/acknowledge-broken');
    const set = loadCampaignSet({ campaignsDir: path.join(broken, 'campaigns'), templatesDir: path.join(FIXTURE, 'templates') });
    expect(set.problems.map((p) => formatProblem(p, broken))).to.deep.equal([
      "campaigns/inbound.yaml:10:18 no canned answer 'thank-you-note' (templates/replies/thank-you-note.hbs); use one of them or true for the built-in words",
    ]);
    const good = loadCampaignSet({ campaignsDir: path.join(FIXTURE, 'campaigns'), templatesDir: path.join(FIXTURE, 'templates') });
    expect(good.problems).to.deep.equal([]);
  });
});
