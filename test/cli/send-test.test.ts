import { execFile } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { saveUser } from '../../src/access/users.ts';
import { reportRequest } from '../../src/campaigns/report.ts';
import { messageIdFromAddress } from '../../src/inbound/addresses.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { seedLeads } from '../helpers/seed.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';
import { startTwilioServer, type TwilioServer } from '../helpers/twilio-server.ts';

/** Runs the CLI in its own process; resolves with its exit code and output. */
function cli(env: Record<string, string>, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/touchpoint.js', ...args],
      { env: { ...process.env, ...env, LOG_LEVEL: 'error' } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('touchpoint send-test', function () {
  this.timeout(60_000);
  let t: TestEngine;
  let sink: SmtpSink;

  before(async () => {
    sink = await startSmtpSink();
    t = await testEngine({ SMTP_URL: sink.url, TEST_RECIPIENTS: 'qa@example.com, +4915112345678' });
    await seedLeads(t.database, [
      { id: 'r-1', email: 'rae@example.com', first: 'Rae', locale: null, orders: 12, consent: ['grant', 'confirm'] },
      // No consent at all: a test is not marketing to the lead, so it still renders for them.
      { id: 'r-2', email: 'rob@example.com', first: 'Rob', locale: 'de', orders: 1, consent: [] },
    ]);
    await saveUser(t.database.pool, { email: 'mia@example.com', name: 'Mia', role: 'marketer', password: 'correct horse battery' });
  });
  after(async () => {
    await t.close();
    await sink.close();
  });
  beforeEach(() => {
    sink.messages.length = 0;
  });

  const testSends = async () =>
    (await t.database.pool.query(`SELECT to_address, status, requested_by, lead_id, persona, locale FROM test_sends ORDER BY id`)).rows;

  it('refuses an address that is neither a user’s own nor on the seed list, the lead’s own included, naming the rule', async () => {
    for (const to of ['stranger@example.com', 'rae@example.com']) {
      const refused = await cli(t.env, ['send-test', 'spring', '--step', 'offer', '--lead', 'r-1', '--to', to]);
      expect(refused.code, refused.stderr).to.equal(3);
      expect(refused.stderr).to.contain(`${to} may not receive tests`);
      expect(refused.stderr).to.contain("a Touchpoint user's own email address or to an address on TEST_RECIPIENTS");
    }
    const usage = await cli(t.env, ['send-test', 'spring', '--step', 'offer', '--to', 'qa@example.com']);
    expect(usage.code).to.equal(2);
    expect(usage.stderr).to.contain('either --lead or --persona');
    expect(sink.messages).to.have.length(0);
    expect(await testSends()).to.deep.equal([]);
  });

  it('renders for a lead (its data and persona) and sends it, marked [TEST], to the seed address only', async () => {
    const sent = await cli(t.env, ['send-test', 'spring', '--step', 'offer', '--lead', 'r-1', '--to', 'QA@example.com']);
    expect(sent.code, sent.stderr).to.equal(0);
    expect(sent.stdout).to.contain('sent to qa@example.com (email): spring/offer for lead r-1 (persona vip)');
    await sink.waitFor(1);
    const [mail] = sink.messages;
    expect(mail!.to).to.deep.include({ text: 'qa@example.com' });
    expect(mail!.subject).to.equal('[TEST] [vip] Dear Rae');
    expect(mail!.text).to.contain('Dear Rae <r-1>');
    // The link in a test withdraws nothing: a click by the tester must not change the lead's consent.
    expect(mail!.text).to.contain('/unsubscribe/<token>');
    expect(mail!.headers.get('list-unsubscribe')).to.equal(undefined);
    // A reply to the test names no message of ours: its Message-ID is not signed with the engine's key, and it has no Reply-To.
    expect(mail!.messageId).to.match(/^<message\+/);
    expect(messageIdFromAddress(t.engine.secret, 'message', mail!.messageId!.slice(1, -1))).to.equal(undefined);
    expect(mail!.replyTo).to.equal(undefined);
    expect(sink.messages.some((m) => JSON.stringify(m.to).includes('rae@example.com'))).to.equal(false);

    // Outside the campaign's messages, counts and report; on record as a test.
    expect((await t.database.pool.query(`SELECT count(*)::int AS n FROM messages`)).rows[0].n).to.equal(0);
    expect((await t.database.pool.query(`SELECT count(*)::int AS n FROM message_counts`)).rows[0].n).to.equal(0);
    const report = await t.engine.campaigns.report(reportRequest(t.engine.loadCampaigns(), 'spring', null));
    expect(report.steps, 'the report has nothing to count').to.deep.equal([]);
    expect(await testSends()).to.deep.equal([
      { to_address: 'qa@example.com', status: 'sent', requested_by: 'cli', lead_id: 1, persona: 'vip', locale: null },
    ]);
  });

  it('renders for a persona and locale with sample data, to a Touchpoint user’s own address', async () => {
    const sent = await cli(t.env, [
      'send-test',
      'spring',
      '--step',
      'offer',
      '--persona',
      'regular',
      '--locale',
      'de',
      '--to',
      'mia@example.com',
    ]);
    expect(sent.code, sent.stderr).to.equal(0);
    expect(sent.stdout).to.contain('for persona regular, locale de, sample data, template spring-offer/default.de.email.hbs');
    await sink.waitFor(1);
    expect(sink.messages[0]!.subject).to.equal('[TEST] [default.de] Hi [first_name]');
    expect(sink.messages[0]!.to).to.deep.include({ text: 'mia@example.com' });
    const unknown = await cli(t.env, ['send-test', 'spring', '--step', 'offer', '--persona', 'nobody', '--to', 'mia@example.com']);
    expect(unknown.stderr).to.contain("no persona 'nobody'");
    const step = await cli(t.env, ['send-test', 'spring', '--step', 'nope', '--persona', 'regular', '--to', 'mia@example.com']);
    expect(step.stderr).to.contain("spring has no step 'nope'");
  });
});

describe('touchpoint send-test of an SMS step', function () {
  this.timeout(60_000);
  const FIXTURE = path.resolve('test/fixtures/sms');
  let t: TestEngine;
  let twilio: TwilioServer;

  before(async () => {
    twilio = await startTwilioServer();
    t = await testEngine({
      CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'),
      TEMPLATES_DIR: path.join(FIXTURE, 'templates'),
      TWILIO_ACCOUNT_SID: twilio.accountSid,
      TWILIO_AUTH_TOKEN: twilio.authToken,
      TWILIO_FROM: '+15005550006',
      TWILIO_API_URL: twilio.url,
      TEST_RECIPIENTS: '+4915112345678',
    });
    await saveUser(t.database.pool, { email: 'mia@example.com', name: 'Mia', role: 'marketer', password: 'correct horse battery' });
  });
  after(async () => {
    await t.close();
    await twilio.close();
  });

  it('goes to a phone number on the seed list, and is refused to a user’s email', async () => {
    const toEmail = await cli(t.env, ['send-test', 'flash', '--step', 'only', '--persona', 'regular', '--to', 'mia@example.com']);
    expect(toEmail.code, toEmail.stderr).to.equal(2);
    expect(toEmail.stderr).to.contain('its test goes to a phone number on TEST_RECIPIENTS (users have no phone number on record)');
    const toStranger = await cli(t.env, ['send-test', 'flash', '--step', 'only', '--persona', 'regular', '--to', '+4915199999999']);
    expect(toStranger.code).to.equal(3);
    expect(twilio.messages).to.have.length(0);

    const sent = await cli(t.env, ['send-test', 'flash', '--step', 'only', '--persona', 'regular', '--to', '+49 151 12345678']);
    expect(sent.code, sent.stderr).to.equal(0);
    expect(twilio.messages).to.have.length(1);
    expect(twilio.messages[0]!.to).to.equal('+4915112345678');
    expect(twilio.messages[0]!.body).to.match(/^\[TEST\] /);
  });
});
