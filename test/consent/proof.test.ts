import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { ManualClock } from '../../src/clock.ts';
import { verifyLedger } from '../../src/consent/verify.ts';
import { importLeads } from '../../src/leads/import.ts';
import { saveLeads } from '../../src/leads/store.ts';
import { apiKeyFor } from '../helpers/keys.ts';
import { startWeb, type TestWeb } from '../helpers/web.ts';
import { settled, testEngine, type TestEngine } from '../helpers/engine.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const exec = promisify(execFile);

describe('double opt-in, proof, export and erasure', function () {
  this.timeout(60_000);
  let t: TestEngine;
  let sink: SmtpSink;
  let web: TestWeb;
  let base: string;
  let clock: ManualClock;
  const keys: Record<string, string> = {};

  beforeEach(async () => {
    sink = await startSmtpSink();
    web = await startWeb();
    base = web.base;
    clock = new ManualClock(new Date(Math.floor(Date.now() / 1000) * 1000).toISOString());
    t = await testEngine({ SMTP_URL: sink.url, PUBLIC_URL: base }, clock);
    web.serve(t.engine);
    for (const role of ['admin', 'marketer', 'service', 'compliance'] as const) keys[role] = await apiKeyFor(t.database, role);
    await saveLeads(t.database.pool, [
      {
        externalId: 'd-1',
        email: 'd1@example.com',
        phone: null,
        firstName: 'Dora',
        lastName: null,
        locale: 'de-DE',
        timezone: null,
        persona: null,
        tags: ['customer'],
        attributes: { orders: 1 },
      },
    ]);
    await t.engine.startDispatcher();
  });
  afterEach(async () => {
    await web.close();
    await t.close();
    await sink.close();
  });

  const api = (method: string, p: string, key: string, body?: unknown) =>
    fetch(base + p, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const form = (url: string) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'ProofBrowser/1.0' },
      body: '',
    });
  const state = async () => (await t.database.pool.query(`SELECT status FROM consent_state WHERE channel = 'email'`)).rows[0]?.status;
  const grant = {
    lead: 'd-1',
    channel: 'email',
    purpose: 'marketing',
    action: 'grant',
    source: 'signup-form',
    evidence: { ip: '203.0.113.9', user_agent: 'Mozilla/5.0', form: 'footer' },
    notice: { version: 'privacy-v3', text: 'We send offers by email. Unsubscribe any time.' },
  };

  async function confirmLink(n: number) {
    await sink.waitFor(n);
    const mail = sink.messages[n - 1]!;
    return /href="([^"]+\/confirm\/[^"]+)"/.exec(mail.html as string)![1]!;
  }

  it('sends a signed confirmation; GET changes nothing, the button confirms once with IP and user agent', async () => {
    const res = await api('POST', '/api/v1/consents', keys.marketer!, grant);
    expect(res.status).to.equal(201);
    const created = (await res.json()) as { event: number; confirmation: { expires_at: string } };
    expect(new Date(created.confirmation.expires_at).getTime() - clock.now().getTime()).to.equal(7 * 86_400_000);
    const link = await confirmLink(1);
    expect(sink.messages[0]!.subject).to.equal('Bitte bestätigen Sie Ihr Abonnement');
    expect(await state()).to.equal('granted');

    expect((await fetch(link)).status).to.equal(200);
    expect(await state()).to.equal('granted');
    const forged = link.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect((await form(forged)).status).to.equal(404);
    expect(await state()).to.equal('granted');

    expect((await form(link)).status).to.equal(200);
    expect(await state()).to.equal('confirmed');
    expect((await form(link)).status).to.equal(409);
    const { rows } = await t.database.pool.query(
      `SELECT action, source, evidence, notice_version, notice_hash FROM consent_events ORDER BY id`,
    );
    expect(rows.map((r) => r.action)).to.deep.equal(['grant', 'confirm']);
    expect(rows[0].notice_version).to.equal('privacy-v3');
    expect(rows[0].notice_hash).to.match(/^[0-9a-f]{64}$/);
    expect(rows[1].evidence).to.include({ grant: created.event, user_agent: 'ProofBrowser/1.0' });
    expect(rows[1].evidence.ip).to.be.a('string');
  });

  it('refuses an expired link and one whose grant was withdrawn since', async () => {
    await api('POST', '/api/v1/consents', keys.marketer!, grant);
    const link = await confirmLink(1);
    clock.advance(7 * 86_400_000 + 1_000);
    expect((await fetch(link)).status).to.equal(404);
    expect((await form(link)).status).to.equal(404);

    await api('POST', '/api/v1/consents', keys.marketer!, grant);
    const second = await confirmLink(2);
    await api('POST', '/api/v1/consents', keys.marketer!, { ...grant, action: 'withdraw' });
    expect((await form(second)).status).to.equal(409);
    expect(await state()).to.equal('withdrawn');
  });

  it('answers as-of checks, proofs and exports to compliance only, with the event that allowed each message', async () => {
    await api('POST', '/api/v1/consents', keys.marketer!, grant);
    await form(await confirmLink(1));
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence: 'o', trigger: 'manual' });
    await settled(t, 'spring', 'o');

    const check = await api('GET', `/api/v1/consents/check?lead=d-1&channel=email&purpose=marketing`, keys.compliance!);
    const answer = (await check.json()) as { allowed: boolean; deciding_event: { action: string; evidence: Record<string, unknown> } };
    expect(answer.allowed).to.equal(true);
    expect(answer.deciding_event.action).to.equal('confirm');
    const before = await api(
      'GET',
      `/api/v1/consents/check?lead=d-1&channel=email&purpose=marketing&at=2000-01-01T00:00:00Z`,
      keys.compliance!,
    );
    expect(await before.json()).to.include({ allowed: false, reason: 'no_consent', deciding_event: null });

    const proof = (await (await api('GET', '/api/v1/consents/proof?lead=d-1', keys.compliance!)).json()) as {
      chain: { checked: number };
      consent_events: { id: number; action: string }[];
      messages: { campaign: string; status: string; consent_event: { id: number; action: string } | null }[];
    };
    const confirm = proof.consent_events.find((e) => e.action === 'confirm')!;
    const spring = proof.messages.find((m) => m.campaign === 'spring')!;
    expect(spring).to.deep.include({ status: 'sent' });
    expect(spring.consent_event).to.deep.include({ id: confirm.id, action: 'confirm' });
    expect(proof.chain).to.deep.include({ checked: 2 });
    const csv = await (await api('GET', '/api/v1/consents/proof?lead=d-1&format=csv', keys.admin!)).text();
    expect(csv.split('\n')[0]).to.equal('record,at,id,channel,purpose,what,source_or_campaign,detail,authorising_event,recorded_later');
    expect(csv).to.contain(`,spring/offer,,${confirm.id}`);

    const exported = await (
      await api('GET', `/api/v1/consents/export?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z`, keys.compliance!)
    ).text();
    expect(exported.trim().split('\n')).to.have.length(3);
    for (const role of ['marketer', 'service']) {
      for (const p of [
        '/check?lead=d-1&channel=email&purpose=marketing',
        '/proof?lead=d-1',
        '/export?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z',
      ]) {
        expect((await api('GET', `/api/v1/consents${p}`, keys[role]!)).status, `${role} ${p}`).to.equal(403);
      }
    }
    expect((await api('POST', '/api/v1/consents', keys.compliance!, grant)).status).to.equal(403);

    const cli = await exec(
      process.execPath,
      ['bin/touchpoint.js', 'consent', 'check', '--lead', 'd-1', '--channel', 'email', '--purpose', 'marketing'],
      { env: { ...process.env, ...t.env, LOG_LEVEL: 'error' } },
    );
    expect(cli.stdout).to.match(/^allowed \(confirmed\)\ndeciding event: #\d+ confirm on .* via double-opt-in by recipient/);
  });

  it('erases a person but keeps a ledger that verifies, and recognises the address when it comes back', async () => {
    await api('POST', '/api/v1/consents', keys.marketer!, grant);
    await form(await confirmLink(1));
    await api('POST', '/api/v1/consents', keys.marketer!, { ...grant, action: 'withdraw', source: 'account-settings' });
    const env = { ...process.env, ...t.env, LOG_LEVEL: 'error' };
    const { stdout } = await exec(process.execPath, ['bin/touchpoint.js', 'leads', 'erase', 'd-1', '--yes'], { env });
    expect(stdout).to.match(/^erased lead d-1 \(now erased-\d+\)/);
    const { rows } = await t.database.pool.query(`SELECT external_id, email, first_name, attributes, erased_at FROM leads`);
    expect(rows[0]).to.deep.include({ email: null, first_name: null, attributes: {} });
    expect(rows[0].external_id).to.match(/^erased-\d+$/);
    const { rows: messages } = await t.database.pool.query(`SELECT to_address, body_text FROM messages`);
    expect(messages.every((m) => m.to_address === null && m.body_text === null)).to.equal(true);
    const ledgerText = JSON.stringify((await t.database.pool.query(`SELECT * FROM consent_events`)).rows);
    expect(ledgerText).not.to.contain('d1@example.com');
    expect(await verifyLedger(t.database.pool))
      .to.deep.include({ checked: 3 })
      .and.not.have.property('broken');

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'erase-'));
    const file = path.join(dir, 'leads.csv');
    fs.writeFileSync(file, 'external_id,email,tags\nd-2,D1@example.com,customer\n');
    const report = await importLeads(t.database.pool, file);
    fs.rmSync(dir, { recursive: true, force: true });
    expect(report.warnings).to.have.length(1);
    expect(report.warnings[0]).to.deep.include({ row: 2 });
    expect(report.warnings[0]!.message).to.contain('withdrew consent before its earlier record was erased');
    const { rows: carried } = await t.database.pool.query(
      `SELECT s.status, e.source FROM consent_state s JOIN consent_events e ON e.id = s.deciding_event_id JOIN leads l ON l.id = s.lead_id WHERE l.external_id = 'd-2'`,
    );
    expect(carried).to.deep.equal([{ status: 'withdrawn', source: 'carried-from-erased' }]);
    // Every way of creating a lead recognises the address, not only the import.
    expect((await api('POST', '/api/v1/leads', keys.marketer!, { external_id: 'd-3', email: 'd1@EXAMPLE.com' })).status).to.equal(201);
    await t.engine.ingestEvents([{ lead: 'd-4', event: 'visited', properties: {}, email: 'd1@example.com' }]);
    const { rows: others } = await t.database.pool.query(
      `SELECT l.external_id, s.status FROM consent_state s JOIN leads l ON l.id = s.lead_id WHERE l.external_id IN ('d-3', 'd-4') ORDER BY 1`,
    );
    expect(others).to.deep.equal([
      { external_id: 'd-3', status: 'withdrawn' },
      { external_id: 'd-4', status: 'withdrawn' },
    ]);
    expect((await verifyLedger(t.database.pool)).broken).to.equal(undefined);
  });

  it('carries an erased person’s withdrawal to the lead their email reply becomes when it is answered', async () => {
    await api('POST', '/api/v1/consents', keys.marketer!, grant);
    await form(await confirmLink(1));
    await api('POST', '/api/v1/consents', keys.marketer!, { ...grant, action: 'withdraw', source: 'account-settings' });
    await t.engine.leads.erase('d-1');

    const { contactId } = await t.engine.receiveReply({
      channel: 'email',
      externalId: '<back-again@mail.example>',
      kind: 'human',
      from: 'd1@example.com',
      recipients: ['hello@touchpoint.test'],
      subject: 'Back again',
      bodyText: 'Do you still sell the blue one?',
      text: 'Do you still sell the blue one?',
    });
    const contact = await t.database.pool.query(`SELECT lead_id FROM inbound_contacts WHERE id = $1`, [contactId]);
    expect(contact.rows[0].lead_id, 'nobody is identified by an erased address').to.equal(null);

    const answered = await api('POST', `/api/v1/inbound/${contactId}/reply`, keys.admin!, { text: 'Yes, it is back in stock.' });
    expect(answered.status).to.equal(202);
    const { rows } = await t.database.pool.query(
      `SELECT l.external_id, s.channel, s.purpose, s.status, e.source
         FROM consent_state s JOIN consent_events e ON e.id = s.deciding_event_id JOIN leads l ON l.id = s.lead_id
        WHERE l.external_id = 'inbound:d1@example.com'`,
    );
    expect(rows).to.deep.equal([
      { external_id: 'inbound:d1@example.com', channel: 'email', purpose: 'marketing', status: 'withdrawn', source: 'carried-from-erased' },
    ]);
    expect((await verifyLedger(t.database.pool)).broken).to.equal(undefined);
  });
});
