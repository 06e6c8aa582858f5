import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { saveUser } from '../../src/access/users.ts';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { outboxDir } from '../../src/channels/index.ts';
import { ManualClock } from '../../src/clock.ts';
import { verifyLedger } from '../../src/consent/verify.ts';
import { recordRetry, startSends } from '../../src/messages/attempt.ts';
import { claimDueMessages } from '../../src/messages/claim.ts';
import { apiKeyFor } from '../helpers/keys.ts';
import { logIn } from '../helpers/login.ts';
import { settled, testEngine, until, type TestEngine } from '../helpers/engine.ts';
import { seedLeads } from '../helpers/seed.ts';
import { startWeb, type TestWeb } from '../helpers/web.ts';

const exec = promisify(execFile);
const FIXTURE = path.resolve('test/fixtures/inbound');
const SECRET = 'inbound-webhook-secret-0123456789';
const PASSWORD = 'correct horse battery';
const EMAIL = 'erin.example@example.com';
const PHONE = '+4915112345678';
/** Everything that names Erin: none of it may be left anywhere after her erasure. */
const HER = [EMAIL, PHONE, 'Erin', 'Example'];

/**
 * Issue 11, item 5: erasure leaves personal data behind. Erin has a consent with evidence, a closed
 * contact whose close note names her, an open contact assigned to Ann with a later message of hers
 * on it, and mail and SMS files in the outbox. `leads erase` must clear all of it (keeping the ledger, which verifies), refuse to run
 * unconfirmed, and afterwards no answer to her may be accepted; the audit still finds her by the
 * address she had.
 */
describe('security: erasure removes what it promises', function () {
  this.timeout(60_000);
  let t: TestEngine;
  let web: TestWeb;
  let dataDir: string;
  let clock: ManualClock;
  const keys: Record<string, string> = {};

  beforeEach(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-'));
    web = await startWeb();
    clock = new ManualClock(new Date());
    t = await testEngine(
      {
        CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'),
        TEMPLATES_DIR: path.join(FIXTURE, 'templates'),
        TOUCHPOINT_DATA_DIR: dataDir,
        PUBLIC_URL: web.base,
        INBOUND_WEBHOOK_SECRET: SECRET,
      },
      clock,
    );
    web.serve(t.engine);
    await saveUser(t.database.pool, { email: 'ann@example.com', role: 'service', password: PASSWORD, languages: ['en'] });
    await saveUser(t.database.pool, { email: 'carl@example.com', role: 'compliance', password: PASSWORD });
    for (const role of ['admin', 'marketer'] as const) keys[role] = await apiKeyFor(t.database, role);
    await seedLeads(t.database, [
      { id: 'erin', email: EMAIL, phone: PHONE, first: 'Erin', locale: null, orders: 2, consent: ['grant', 'confirm'] },
    ]);
  });
  afterEach(async () => {
    await web.close();
    await t.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const api = (method: string, p: string, key: string, body?: unknown) =>
    fetch(web.base + p, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  const cli = (...args: string[]) =>
    exec(process.execPath, ['bin/touchpoint.js', 'leads', 'erase', ...args], {
      env: { ...process.env, ...t.env, LOG_LEVEL: 'error' },
    }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  /** The command on a terminal: util-linux `script` gives it a pseudo-terminal and types `input`. */
  const onTerminal = (input: string, ...args: string[]) =>
    new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const command = [process.execPath, 'bin/touchpoint.js', 'leads', 'erase', ...args].join(' ');
      const child = spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, ...t.env, LOG_LEVEL: 'error' } });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, output }));
      child.stdin.end(input);
    });

  /** Erin answers the offer she got: mail to its Reply-To address, through the inbound webhook. */
  async function erinWrites(replyTo: string, id: string, text: string): Promise<number> {
    const mime = `From: Erin Example <${EMAIL}>\r\nTo: ${replyTo}\r\nSubject: Re: your offer\r\nMessage-ID: <${id}@example.com>\r\n\r\n${text}\r\n`;
    const res = await fetch(`${web.base}/webhooks/email/inbound?to=${encodeURIComponent(replyTo)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'message/rfc822' },
      body: mime,
    });
    expect(res.status, await res.clone().text()).to.equal(201);
    return ((await res.json()) as { contact: number }).contact;
  }

  const outboxFiles = () => (fs.existsSync(outboxDir(t.config)) ? fs.readdirSync(outboxDir(t.config)) : []);
  const tableText = async (table: string) => JSON.stringify((await t.database.pool.query(`SELECT * FROM ${table}`)).rows);

  /** Erin's whole story up to the erasure; returns her two contacts. */
  async function erinsHistory() {
    // Evidence off the allow-list (free text about her) is refused; the documented fields are kept.
    const extra = { ip: '203.0.113.9', note: `Erin Example, ${PHONE}` };
    const refused = await api('POST', '/api/v1/consents', keys.marketer!, {
      lead: 'erin',
      channel: 'sms',
      purpose: 'marketing',
      action: 'grant',
      source: 'signup-form',
      evidence: extra,
    });
    expect(refused.status).to.equal(400);
    expect(((await refused.json()) as { details: string[] }).details.join())
      .to.contain('evidence.note')
      .and.contain('ip, user_agent, form');
    const grant = await api('POST', '/api/v1/consents', keys.marketer!, {
      lead: 'erin',
      channel: 'sms',
      purpose: 'marketing',
      action: 'grant',
      source: 'signup-form',
      evidence: { ip: '203.0.113.9', user_agent: 'Mozilla/5.0', form: 'footer', page: 'https://shop.example/newsletter' },
    });
    expect(grant.status).to.equal(201);

    await t.engine.startDispatcher();
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'followup'), set, { occurrence: 'o', trigger: 'manual' });
    await settled(t, 'followup', 'o');
    const offerFile = outboxFiles().find((f) => f.endsWith('.eml'))!;
    const offer = fs.readFileSync(path.join(outboxDir(t.config), offerFile), 'utf8');
    expect(offer).to.contain(EMAIL);
    const replyTo = /^Reply-To: (\S+)/m.exec(offer)![1]!;

    const closed = await erinWrites(replyTo, 'first', 'Please call me back, my number is below.');
    const answered = await api('POST', `/api/v1/inbound/${closed}/reply`, keys.admin!, { text: 'We will text you, Erin.', channel: 'sms' });
    expect(answered.status).to.equal(202);
    await until(async () => outboxFiles().find((f) => f.endsWith('.sms.txt')));
    const note = `Called Erin Example on ${PHONE}; she wants the blue one`;
    expect(
      (await api('POST', `/api/v1/inbound/${closed}/close`, keys.admin!, { resolution: note, user: 'ann@example.com' })).status,
    ).to.equal(200);
    expect(JSON.stringify((await (await api('GET', `/api/v1/inbound/${closed}`, keys.admin!)).json()) as unknown)).to.contain(note);
    // Past the week in which writing again reopens the closed contact: a new contact, and her next message joins it.
    clock.advance(8 * 24 * 60 * 60 * 1000);
    const open = await erinWrites(replyTo, 'second', 'Any news?');
    expect(await erinWrites(replyTo, 'third', 'Still waiting, Erin Example')).to.equal(open);
    const { rows } = await t.database.pool.query(`SELECT status, assignee_id FROM inbound_contacts WHERE id = $1`, [open]);
    expect(rows[0].status).to.equal('assigned');
    expect(outboxFiles().filter((f) => f.startsWith('message-'))).to.have.length(2);
    return { closed, open };
  }

  it('erases consent evidence extras, close notes, outbox files and open contacts, then refuses every answer to her', async () => {
    const { closed, open } = await erinsHistory();

    const { code, stdout } = await cli('erin', '--yes');
    expect(code).to.equal(0);
    expect(stdout).to.match(
      /^erased lead erin \(now erased-\d+\): \d+ message\(s\).*2 inbound contact\(s\) \(1 of them open\).*2 outbox file\(s\)/,
    );

    // Nothing of hers is left in any table that holds people, their messages or their replies.
    for (const table of [
      'leads',
      'events',
      'messages',
      'inbound_contacts',
      'inbound_contact_messages',
      'inbound_contact_events',
      'consent_events',
      'consent_state',
    ]) {
      const text = await tableText(table);
      for (const trace of HER) expect(text, `${table} still holds '${trace}'`).not.to.contain(trace);
    }
    // The ledger keeps the proof (IP, user agent, form, page) and still verifies.
    const { rows: evidence } = await t.database.pool.query(`SELECT evidence FROM consent_events WHERE source = 'signup-form'`);
    expect(evidence[0].evidence).to.deep.equal({
      ip: '203.0.113.9',
      user_agent: 'Mozilla/5.0',
      form: 'footer',
      page: 'https://shop.example/newsletter',
    });
    expect((await verifyLedger(t.database.pool)).broken).to.equal(undefined);

    // Both contacts are closed as erased, the open one with a history entry saying so.
    const { rows: contacts } = await t.database.pool.query(`SELECT id, status, resolution FROM inbound_contacts ORDER BY id`);
    expect(contacts).to.deep.equal([
      { id: closed, status: 'closed', resolution: 'erased' },
      { id: open, status: 'closed', resolution: 'erased' },
    ]);
    const { rows: history } = await t.database.pool.query(
      `SELECT action, actor, detail FROM inbound_contact_events WHERE contact_id = $1 ORDER BY id DESC LIMIT 1`,
      [open],
    );
    expect(history[0]).to.deep.equal({ action: 'closed', actor: 'system', detail: { resolution: 'erased' } });
    const { rows: closedHistory } = await t.database.pool.query(
      `SELECT detail FROM inbound_contact_events WHERE contact_id = $1 AND action = 'closed'`,
      [closed],
    );
    expect(closedHistory).to.deep.equal([{ detail: { resolution: 'erased' } }]);

    // The outbox folder holds no file of hers, and none that names her.
    expect(outboxFiles()).to.deep.equal([]);

    // Answers to her are refused, by the API and from the inbox, and nothing is queued.
    const messagesBefore = await tableText('messages');
    for (const id of [open, closed]) {
      const res = await api('POST', `/api/v1/inbound/${id}/reply`, keys.admin!, { text: 'Hello?' });
      expect(res.status).to.equal(409);
      expect(((await res.json()) as { message: string }).message).to.match(/erased on \d{4}-\d{2}-\d{2}.*nothing can be sent to them/);
    }
    const ann = await logIn(web.base, 'ann@example.com', PASSWORD);
    const contactPage = await (await ann.page(`/inbox/${open}`)).text();
    expect(contactPage).not.to.contain('reply-text');
    const fromInbox = await ann.post(`/inbox/${open}/reply`, { text: 'Hello?' });
    expect(fromInbox.status).to.equal(409);
    expect(await fromInbox.text()).to.contain('erased on');
    expect(await tableText('messages')).to.equal(messagesBefore);

    // The audit finds her by the address she had, through the keyed hash, and says when she was erased.
    const carl = await logIn(web.base, 'carl@example.com', PASSWORD);
    for (const q of [EMAIL.toUpperCase(), PHONE]) {
      const found = await (await carl.page(`/audit?q=${encodeURIComponent(q)}`)).text();
      expect(found, q).to.match(/data-lead="erased-\d+"/);
      expect(found, q).to.match(/erased on \d{4}-\d{2}-\d{2}/);
    }
    const nobody = await (await carl.page(`/audit?q=${encodeURIComponent('someone.else@example.com')}`)).text();
    expect(nobody).to.contain('Nobody found');
  });

  it('asks on a terminal, refuses unconfirmed off one, and a dry run counts without changing anything', async () => {
    await erinsHistory();
    const before = await Promise.all(
      ['leads', 'messages', 'inbound_contacts', 'inbound_contact_messages', 'inbound_contact_events'].map(tableText),
    );

    // None of these changes anything, so they run side by side (each CLI process takes a while to start).
    const terminal = !spawnSync('script', ['--version']).error;
    const [unconfirmed, dry, typo] = await Promise.all([
      cli('erin'),
      cli('erin', '--dry-run'),
      terminal ? onTerminal('eirn\n', 'erin') : undefined,
    ]);
    expect(unconfirmed.code).to.equal(2);
    expect(unconfirmed.stderr).to.contain('asks for confirmation on a terminal').and.contain('--yes');
    expect(dry.code).to.equal(0);
    // Her two replies and the close of one are events too (contact_received, contact_closed), emptied with the rest.
    expect(dry.stdout).to.match(
      /^would erase lead erin: \d+ message\(s\) \(0 of them not sent yet\), 2 inbound contact\(s\) \(1 of them open\), 3 event\(s\), 2 outbox file\(s\); .*nothing changed/,
    );
    expect(
      await Promise.all(['leads', 'messages', 'inbound_contacts', 'inbound_contact_messages', 'inbound_contact_events'].map(tableText)),
    ).to.deep.equal(before);
    expect(outboxFiles()).to.have.length(2);

    if (!typo) {
      console.log('      (no util-linux `script` here: the terminal confirmation is not exercised)');
      return;
    }
    expect(typo.output).to.contain('This erases the personal data of erin for good').and.contain('Type erin to erase it');
    expect(typo.output).to.contain('not confirmed: nothing was erased');
    expect(typo.code).to.equal(1);
    const typed = await onTerminal('erin\n', 'erin');
    expect(typed.output).to.match(/erased lead erin \(now erased-\d+\)/);
    expect(typed.code).to.equal(0);
    expect(outboxFiles()).to.deep.equal([]);
  });

  it('fails a message that was in flight during the erasure for good, instead of retrying it without an address', async () => {
    const res = await api('POST', '/api/v1/leads', keys.marketer!, { external_id: 'frank', email: 'frank@example.com' });
    expect(res.status).to.equal(201);
    const contact = await t.engine.receiveReply({
      channel: 'email',
      externalId: '<frank-1@example.com>',
      kind: 'human',
      from: 'frank@example.com',
      recipients: ['hello@touchpoint.test'],
      subject: 'Question',
      bodyText: 'Do you ship to Norway?',
      text: 'Do you ship to Norway?',
    });
    expect((await api('POST', `/api/v1/inbound/${contact.contactId}/reply`, keys.admin!, { text: 'We do.' })).status).to.equal(202);
    // A dispatcher has the answer in hand when the erasure runs, and its send fails for a moment.
    const [inFlight] = await claimDueMessages(t.database.pool, 4242, 10, t.engine.clock.now());
    expect(inFlight!.toAddress).to.equal('frank@example.com');
    const startedAt = t.engine.clock.now();
    expect(await startSends(t.database.pool, 4242, [inFlight!.id], startedAt)).to.deep.equal([{ go: true, attempts: 1 }]);
    await t.engine.leads.erase('frank');
    const retry = { id: inFlight!.id, startedAt, error: 'connection reset', retryAt: t.engine.clock.now() };
    await recordRetry(t.database.pool, 4242, { ...retry, refund: false, possibleDuplicate: true });

    await t.engine.startDispatcher();
    const failed = await until(async () => {
      const { rows } = await t.database.pool.query(`SELECT status, reason, last_error, attempts FROM messages WHERE id = $1`, [
        inFlight!.id,
      ]);
      return rows[0].status === 'failed' ? rows[0] : undefined;
    });
    // The second send never started: only the first counts.
    expect(failed).to.deep.include({ reason: 'erased', attempts: 1 });
    expect(failed.last_error).to.contain('erased');
    expect(outboxFiles()).to.deep.equal([]);
  });
});
