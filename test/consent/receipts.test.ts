import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { ParsedMail } from 'mailparser';
import { signToken } from '../../src/consent/tokens.ts';
import { saveLeads } from '../../src/leads/store.ts';
import { testEngine, until, type TestEngine } from '../helpers/engine.ts';
import { apiKeyFor } from '../helpers/keys.ts';
import { contactLead } from '../helpers/seed.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';
import { startWeb } from '../helpers/web.ts';

const NOTICE = 'We email you our offers, at most once a week.\n';

/**
 * Issue 17, receipts: with CONSENT_RECEIPTS=true each consent change a person makes (a grant through
 * the API, a double opt-in confirmation, a withdrawal through an unsubscribe link) queues exactly one
 * receipt, in the transaction of its event, and the real SMTP sink receives it with what was
 * recorded and a working preference link. Off, none; a bulk import never produces one.
 */
describe('consent receipts', function () {
  this.timeout(60_000);
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'receipts-'));
    fs.mkdirSync(path.join(dir, 'marketing'));
    fs.writeFileSync(path.join(dir, 'marketing', 'v7.en.md'), NOTICE);
  });

  /** An engine served over HTTP, sending to a fresh SMTP sink, with two leads (English and German). */
  async function served(env: Record<string, string>) {
    const sink = await startSmtpSink();
    const web = await startWeb();
    const t = await testEngine({ SMTP_URL: sink.url, PUBLIC_URL: web.base, NOTICES_DIR: dir, ...env });
    web.serve(t.engine);
    await saveLeads(t.database.pool, [
      contactLead('r-1', 'r1@example.com'),
      { ...contactLead('r-2', 'r2@example.com'), locale: 'de-DE' },
      contactLead('r-3', 'r3@example.com', '+4915112345678'),
    ]);
    await t.engine.startDispatcher();
    const key = await apiKeyFor(t.database, 'marketer');
    const grant = (lead: string) =>
      fetch(`${web.base}/api/v1/consents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          lead,
          channel: 'email',
          purpose: 'marketing',
          action: 'grant',
          source: 'signup-form',
          notice: { version: 'v7', text: NOTICE },
        }),
      });
    const leadId = async (externalId: string) => (await t.engine.leads.find(externalId))!.id;
    const close = async () => {
      await web.close();
      await t.close();
      await sink.close();
    };
    return { sink, web, t, grant, leadId, close };
  }

  const receipts = (sink: SmtpSink) => sink.messages.filter((m) => /Action: |Aktion: /.test(m.text ?? ''));
  const queuedReceipts = async (t: TestEngine) =>
    Number((await t.database.pool.query(`SELECT count(*) FROM messages WHERE purpose = 'consent-receipt'`)).rows[0].count);
  const preferenceLink = (mail: ParsedMail) => /(http:\/\/\S+\/unsubscribe\/\S+)/.exec(mail.text!)![1]!;

  describe('on', () => {
    let s: Awaited<ReturnType<typeof served>>;
    before(async () => (s = await served({ CONSENT_RECEIPTS: 'true' })));
    after(async () => s.close());

    it('a grant through the API, then its confirmation: one receipt each, with what was recorded and a working link', async () => {
      expect((await s.grant('r-1')).status).to.equal(201);
      const receipt = await until(async () => receipts(s.sink).find((m) => m.text!.includes('Action: grant')));
      expect(receipt.to).to.satisfy((to: { text: string }) => to.text.includes('r1@example.com'));
      expect(receipt.subject).to.equal('We recorded your choice about marketing emails');
      expect(receipt.text).to.contain('Channel: email\nPurpose: marketing\nAction: grant (consent given)');
      expect(receipt.text).to.contain('Source: signup-form');
      expect(receipt.text).to.contain('Notice version: v7 (notices/marketing/v7.en.md)');
      const page = await fetch(preferenceLink(receipt));
      expect(page.status).to.equal(200);
      expect(await page.text()).to.contain('marketing emails');

      const confirmation = await until(async () => s.sink.messages.find((m) => /\/confirm\//.test(m.html || '')));
      const confirm = /href="([^"]+\/confirm\/[^"]+)"/.exec(confirmation.html as string)![1]!;
      expect((await fetch(confirm, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).to.equal(
        200,
      );
      const confirmed = await until(async () => receipts(s.sink).find((m) => m.text!.includes('Action: confirm')));
      expect(confirmed.text).to.contain('Source: double-opt-in');
      expect(receipts(s.sink)).to.have.length(2);
      expect(await queuedReceipts(s.t)).to.equal(2);
    });

    it('a withdrawal through an unsubscribe link: exactly one receipt, in the person’s language', async () => {
      const lead = await s.leadId('r-2');
      const token = signToken(s.t.engine.secret, { kind: 'unsubscribe', lead, channel: 'email', purpose: 'marketing', message: 'test:1' });
      const before = receipts(s.sink).length;
      const res = await fetch(`${s.web.base}/unsubscribe/${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: '',
      });
      expect(res.status).to.equal(200);
      await until(async () => (receipts(s.sink).length > before ? true : undefined));
      // Time for a second copy to arrive, had one been queued.
      await new Promise((r) => setTimeout(r, 500));
      const mine = receipts(s.sink).filter((m) => m.text!.includes('Aktion: withdraw'));
      expect(mine).to.have.length(1);
      expect(mine[0]!.subject).to.equal('Wir haben Ihre Entscheidung zu Werbe-E-Mails festgehalten');
      expect(mine[0]!.text).to.contain('Kanal: email\nZweck: marketing\nAktion: withdraw (Einwilligung widerrufen)');
      expect(mine[0]!.text).to.contain('Quelle: unsubscribe-link');
      expect(mine[0]!.text).to.contain('Version des Hinweises: keine festgehalten');
      const page = await fetch(preferenceLink(mine[0]!));
      expect(page.status).to.equal(200);
      expect(await page.text()).to.contain('Ihre Einstellungen');
      const { rows } = await s.t.database.pool.query(
        `SELECT m.idempotency_key FROM messages m WHERE m.purpose = 'consent-receipt' AND m.lead_id = $1`,
        [lead],
      );
      const { rows: events } = await s.t.database.pool.query(`SELECT id FROM consent_events WHERE lead_id = $1`, [lead]);
      expect(rows.map((r) => r.idempotency_key)).to.deep.equal(events.map((e) => `receipt:${e.id}`));
    });

    it('an SMS STOP: one receipt by email, to the address on file, per consent it withdrew', async () => {
      const sms = { messageSid: `SM${'1'.repeat(32)}`, from: '+4915112345678', to: '+15005550006', body: 'STOP' };
      expect((await s.t.engine.inbox.inboundSms(sms)).leads).to.equal(1);
      await s.t.engine.inbox.inboundSms(sms); // Twilio retrying the webhook: the same change, no second receipt
      const receipt = await until(async () => receipts(s.sink).find((m) => m.text!.includes('Channel: sms')));
      expect(receipt.to).to.satisfy((to: { text: string }) => to.text.includes('r3@example.com'));
      expect(receipt.text).to.contain('Channel: sms\nPurpose: marketing\nAction: withdraw (consent withdrawn)');
      expect(receipt.text).to.contain('Source: sms-keyword');
      await new Promise((r) => setTimeout(r, 500));
      expect(receipts(s.sink).filter((m) => m.text!.includes('Channel: sms'))).to.have.length(1);
    });

    it('a consent import produces none: an import is history, not a person’s act', async () => {
      const file = path.join(dir, 'history.csv');
      fs.writeFileSync(
        file,
        'external_id,channel,purpose,action,occurred_at,source\nr-2,sms,marketing,grant,2025-01-01T10:00:00Z,paper-form\n',
      );
      const queued = await queuedReceipts(s.t);
      expect((await s.t.engine.consent.import(file)).imported).to.equal(1);
      expect(await queuedReceipts(s.t)).to.equal(queued);
    });
  });

  it('off (the default): a grant sends its confirmation and no receipt', async () => {
    const s = await served({});
    try {
      expect(s.t.config.consentReceipts).to.equal(false);
      expect((await s.grant('r-1')).status).to.equal(201);
      await s.sink.waitFor(1);
      await new Promise((r) => setTimeout(r, 500));
      expect(s.sink.messages).to.have.length(1);
      expect(receipts(s.sink)).to.have.length(0);
      expect(await queuedReceipts(s.t)).to.equal(0);
    } finally {
      await s.close();
    }
  });
});
