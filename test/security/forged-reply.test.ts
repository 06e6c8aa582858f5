import path from 'node:path';
import { expect } from 'chai';
import type { ParsedMail } from 'mailparser';
import type { SendMailOptions } from 'nodemailer';
import twilio from 'twilio';
import { createApiKey } from '../../src/access/keys.ts';
import { saveUser } from '../../src/access/users.ts';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { until } from '../helpers/engine.ts';
import { startInboundApp, type InboundApp } from '../helpers/inbound-app.ts';
import { seedLeads } from '../helpers/seed.ts';
import { deliverMail, recipient, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';
import { startTwilioServer, type TwilioServer } from '../helpers/twilio-server.ts';
import { logIn } from '../helpers/web.ts';

/**
 * Issue 11, item 1: a reply from a stranger must not speak for a customer. The attacks are mailed
 * to the inbound SMTP listener by a real SMTP client (and texted through the signed Twilio
 * webhook); what they may change is read back through the API, the web pages and the mail that
 * leaves. Before the fix, both mails below withdrew Vera's consent, and an agent's answer to the
 * contact (shown with Vera's history) went to the attacker.
 */

const FIXTURE = path.resolve('test/fixtures/inbound');
const PASSWORD = 'correct horse battery';
const ATTACKER = 'mallory@evil.example';
const VERA = 'vera@example.com';
const PHONE = '+4915112345678';
const OPT_OUT = 'Please unsubscribe me from all of this.';

interface Contact {
  id: number;
  lead: string | null;
  identified_by: string | null;
  trust: string | null;
  from: string;
  envelope_from: string | null;
  category: string;
  answer_to: { email: string | null; sms: string | null };
  history: { action: string; actor: string; detail: Record<string, unknown> }[];
  timeline: unknown[];
}

interface LedgerEvent {
  action: string;
  channel: string;
  source: string;
  actor: string;
  evidence: Record<string, unknown>;
}

describe('security: a forged reply changes nobody’s consent and gets no answer meant for the customer', function () {
  this.timeout(60_000);
  let sink: SmtpSink;
  let twilioServer: TwilioServer;
  let app: InboundApp;
  const keys: Record<string, string> = {};

  beforeEach(async () => {
    sink = await startSmtpSink();
    twilioServer = await startTwilioServer();
    app = await startInboundApp({
      CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'),
      TEMPLATES_DIR: path.join(FIXTURE, 'templates'),
      SMTP_URL: sink.url,
      TWILIO_ACCOUNT_SID: twilioServer.accountSid,
      TWILIO_AUTH_TOKEN: twilioServer.authToken,
      TWILIO_API_URL: twilioServer.url,
      TWILIO_FROM: '+15005550006',
    });
    const { t } = app;
    // ann serves both queues of the fixture, so every contact here lands with her.
    await saveUser(t.database.pool, { email: 'ann@example.com', role: 'service', password: PASSWORD, languages: ['en'] });
    keys.ann = (await createApiKey(t.database.pool, 'service', 'ann-tool', 'ann@example.com')).key;
    keys.admin = (await createApiKey(t.database.pool, 'admin', 'admin')).key;
    await seedLeads(t.database, [
      { id: 'vera', email: VERA, phone: PHONE, first: 'Vera', locale: null, orders: 4, consent: ['grant', 'confirm'], sms: ['grant'] },
      { id: 'walt', email: 'walt@example.com', first: 'Walt', locale: null, orders: 1, consent: ['grant', 'confirm'] },
    ]);
    await t.engine.startDispatcher();
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'followup'), set, { occurrence: 'o', trigger: 'manual' });
    await sink.waitFor(2);
  });
  afterEach(async () => {
    await app.close();
    await sink.close();
    await twilioServer.close();
  });

  async function api<T = Record<string, unknown>>(
    method: string,
    p: string,
    key: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const res = await fetch(app.web.base + p, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  const deliver = (mail: SendMailOptions) => deliverMail(app.inbound.port, mail);
  const mailTo = (address: string): ParsedMail[] => sink.messages.filter((m) => recipient(m) === address);
  const consentOf = async (channel: 'email' | 'sms') =>
    (await api<{ status: string }>('GET', `/api/v1/consents/check?lead=vera&channel=${channel}&purpose=marketing`, keys.admin!)).body
      .status;
  const ledger = async () =>
    (await api<{ consent_events: LedgerEvent[] }>('GET', '/api/v1/consents/proof?lead=vera', keys.admin!)).body.consent_events;
  const contact = async (id: number) => (await api<Contact>('GET', `/api/v1/inbound/${id}`, keys.ann!)).body;
  const newestContact = async () => {
    const { body } = await api<{ contacts: { id: number }[] }>('GET', '/api/v1/inbound', keys.admin!);
    return contact(Math.max(...body.contacts.map((c) => c.id)));
  };
  const vera = () => sink.messages.find((m) => recipient(m) === VERA)!;

  it('In-Reply-To naming the victim’s message by its number (or a made-up signature) identifies nobody and withdraws nothing', async () => {
    const before = await ledger();
    const { body } = await api<{ messages: { id: number; lead: string }[] }>('GET', '/api/v1/messages?campaign=followup', keys.admin!);
    const victims = body.messages.find((m) => m.lead === 'vera')!;
    // The attacker walks every message number the old scheme would have given, and guesses at the signed form.
    const walked = Array.from({ length: victims.id + 2 }, (_, i) => `<message-${i + 1}@${app.domain}>`);
    await deliver({
      envelope: { from: ATTACKER, to: `hello@${app.domain}` },
      from: ATTACKER,
      to: `hello@${app.domain}`,
      subject: `Re: ${vera().subject}`,
      text: OPT_OUT,
      inReplyTo: `<message-${victims.id}@${app.domain}>`,
      references: [...walked, `<message+${victims.id.toString(36)}-${'0'.repeat(20)}@${app.domain}>`],
    });

    expect(await consentOf('email')).to.equal('confirmed');
    expect(await ledger()).to.deep.equal(before);
    const forged = await newestContact();
    expect(forged).to.include({ lead: null, identified_by: null, trust: null, from: ATTACKER, category: 'opt-out' });
    expect(forged.timeline, 'the agent sees nobody’s history').to.deep.equal([]);
    expect(forged.answer_to).to.deep.equal({ email: ATTACKER, sms: null });

    // The agent answers a stranger, and sees so: nothing of Vera's goes into it, nor into her history.
    expect((await api('POST', `/api/v1/inbound/${forged.id}/reply`, keys.ann!, { text: 'Who are you?' })).status).to.equal(202);
    await until(async () => mailTo(ATTACKER)[0]);
    const { body: answers } = await api<{ messages: { lead: string; to: string }[] }>(
      'GET',
      '/api/v1/messages?campaign=inbox',
      keys.admin!,
    );
    expect(answers.messages.map((m) => [m.lead, m.to])).to.deep.equal([[`inbound:${ATTACKER}`, ATTACKER]]);
    expect(mailTo(VERA)).to.have.length(1);

    // The same number from the address it was sent to is a hint, not proof: Vera's contact, unverified.
    await deliver({
      from: VERA,
      to: `hello@${app.domain}`,
      subject: 'Re: offer',
      text: OPT_OUT,
      inReplyTo: `<message-${victims.id}@${app.domain}>`,
    });
    expect(await newestContact()).to.include({ lead: 'vera', identified_by: 'headers', trust: 'unverified' });
    expect(await consentOf('email')).to.equal('confirmed');
  });

  it('a reply quoting the signed Message-ID of her message is verified, and her opt-out takes effect at once', async () => {
    await deliver({ from: VERA, to: `hello@${app.domain}`, subject: 'Re: offer', text: OPT_OUT, inReplyTo: vera().messageId });
    expect(await newestContact()).to.include({ lead: 'vera', identified_by: 'headers', trust: 'verified' });
    expect(await consentOf('email')).to.equal('withdrawn');
    expect((await ledger()).at(-1)).to.include({ action: 'withdraw', source: 'reply-opt-out', actor: 'recipient' });
  });

  it('a header From naming the customer over the attacker’s envelope is unverified: no withdrawal, a link to her, the agent’s answer to her', async () => {
    const before = await ledger();
    await deliver({
      envelope: { from: ATTACKER, to: `hello@${app.domain}` },
      from: `Vera <${VERA}>`,
      to: `hello@${app.domain}`,
      subject: 'Re: offer',
      text: OPT_OUT,
    });

    expect(await consentOf('email')).to.equal('confirmed');
    expect(await ledger()).to.deep.equal(before);
    const forged = await newestContact();
    expect(forged).to.include({ lead: 'vera', identified_by: 'address', trust: 'unverified', from: VERA, envelope_from: ATTACKER });
    expect(forged.answer_to).to.deep.equal({ email: VERA, sms: PHONE });
    const requested = forged.history.find((h) => h.action === 'opt-out-requested')!;
    expect(requested.detail).to.include({ channel: 'email', purpose: 'marketing', trust: 'unverified' });

    // The inbox and the contact page say so, and where an answer goes.
    const ann = await logIn(app.web.base, 'ann@example.com', PASSWORD);
    const inboxPage = await (await fetch(`${app.web.base}/inbox`, { headers: { cookie: ann.cookie } })).text();
    expect(/<tr data-contact="(\d+)">[\s\S]*?<\/tr>/g.exec(inboxPage)?.[0]).to.contain('unverified sender');
    const page = await (await fetch(`${app.web.base}/inbox/${forged.id}`, { headers: { cookie: ann.cookie } })).text();
    expect(page).to.contain('Unverified sender.');
    expect(page).to.contain(`envelope sender ${ATTACKER}`);
    expect(page).to.contain('Asks to opt out.');
    expect(page).to.contain("Answers go to vera's address on file");

    // The agent's answer goes to the address on file: the attacker gets nothing, now or later.
    expect((await api('POST', `/api/v1/inbound/${forged.id}/reply`, keys.ann!, { text: 'Sorry to see you go, Vera.' })).status).to.equal(
      202,
    );
    await until(async () => mailTo(VERA).find((m) => m.text?.includes('Sorry to see you go')));
    expect(sink.messages.map(recipient)).not.to.include(ATTACKER);

    // Completed by the link sent to the address on file: a GET changes nothing, her click withdraws.
    const confirmation = await until(async () => mailTo(VERA).find((m) => m.subject?.startsWith('Did you ask us to stop')));
    expect(confirmation.subject).to.equal('Did you ask us to stop sending you marketing emails?');
    const link = /https?:\/\/\S+\/unsubscribe\/[\w.-]+/.exec(confirmation.text ?? '')![0];
    expect((await fetch(link)).status).to.equal(200);
    expect(await consentOf('email')).to.equal('confirmed');
    expect((await fetch(link, { method: 'POST', headers: { 'user-agent': 'vera-browser' } })).status).to.equal(200);
    expect(await consentOf('email')).to.equal('withdrawn');
    const withdrawal = (await ledger()).at(-1)!;
    expect(withdrawal).to.include({ action: 'withdraw', channel: 'email', source: 'unsubscribe-link', actor: 'recipient' });
    expect(withdrawal.evidence).to.include({ message: `opt-out-request:${forged.id}`, user_agent: 'vera-browser' });
  });

  it('an unverified opt-out is completed by an agent, who is recorded as its actor with the contact as evidence', async () => {
    await deliver({
      envelope: { from: ATTACKER, to: `hello@${app.domain}` },
      from: VERA,
      to: `hello@${app.domain}`,
      subject: 'Re',
      text: OPT_OUT,
    });
    const forged = await newestContact();
    expect(await consentOf('email')).to.equal('confirmed');

    const done = await api<Contact>('POST', `/api/v1/inbound/${forged.id}/opt-out`, keys.ann!, {});
    expect(done.status).to.equal(200);
    expect(await consentOf('email')).to.equal('withdrawn');
    const withdrawal = (await ledger()).at(-1)!;
    expect(withdrawal).to.include({
      action: 'withdraw',
      channel: 'email',
      source: 'agent-opt-out',
      actor: 'key:ann-tool for ann@example.com',
    });
    expect(withdrawal.evidence).to.deep.equal({ contact_id: forged.id, identified_by: 'address', trust: 'unverified' });
    expect(done.body.history.at(-1)).to.include({ action: 'consent-withdrawn', actor: 'key:ann-tool for ann@example.com' });
    // An unidentified sender has no consent of anyone's to withdraw.
    await deliver({ from: ATTACKER, to: `hello@${app.domain}`, subject: 'Re', text: OPT_OUT });
    expect((await api('POST', `/api/v1/inbound/${(await newestContact()).id}/opt-out`, keys.ann!, {})).status).to.equal(422);
  });

  it('a text from the number on file is verified only once it answers our last text to that number', async () => {
    const url = `${app.web.base}/webhooks/twilio/sms`;
    let sid = 0;
    const text = async (body: string) => {
      const params = { MessageSid: `SM${String(++sid).padStart(32, '0')}`, From: PHONE, To: '+15005550006', Body: body };
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': twilio.getExpectedTwilioSignature(twilioServer.authToken, url, params),
        },
        body: new URLSearchParams(params).toString(),
      });
      expect(res.status).to.equal(200);
      return newestContact();
    };
    // We never texted her: the number alone proves nothing, so the request goes back to it as a link.
    expect(await text(OPT_OUT)).to.include({ lead: 'vera', identified_by: 'number', trust: 'unverified' });
    expect(await consentOf('sms')).to.equal('granted');
    const link = await until(async () => twilioServer.messages.find((m) => m.to === PHONE));
    expect(link.body).to.match(/stop marketing text messages to this number\. To confirm: http\S+\/unsubscribe\//);
    await until(async () =>
      (await api<{ messages: { status: string }[] }>('GET', '/api/v1/messages?campaign=inbox', keys.admin!)).body.messages.find(
        (m) => m.status === 'sent',
      ),
    );
    // Now it answers our last text to the number on file: verified, and STOP-like words take effect at once.
    expect(await text(OPT_OUT)).to.include({ lead: 'vera', identified_by: 'number', trust: 'verified' });
    expect(await consentOf('sms')).to.equal('withdrawn');
    expect(await consentOf('email')).to.equal('confirmed');
  });
});
