import zlib from 'node:zlib';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { saveUser } from '../../src/access/users.ts';
import { parseInboundEmail } from '../../src/inbound/email.ts';
import type { AccessBundle } from '../../src/leads/access-request.ts';
import { apiKeyFor } from '../helpers/keys.ts';
import { leadScenario, PASSWORD, REPLY_BODY, REPLY_SUBJECT, type LeadScenario } from '../helpers/lead-history.ts';
import { logIn } from '../helpers/web.ts';

const exec = promisify(execFile);
const ADMIN = { role: 'admin' as const };
const ACTOR = { label: 'user:carl@example.com' };
const LATER = 'And one more thing: my new number is +49 30 7654321';
const NOTE = 'Called Anna back, she prefers letters';
/** What only Ben wrote: none of it may be in Anna's bundle. */
const BENS = ['ben@example.com', 'Ben', 'Ben wrote this about his own order'];

/**
 * Issue 17, access requests (GDPR Art. 15): Anna has events, an enrollment, a sent message, a
 * reply with a later message on it, closed with a note, and a satisfaction answer; Ben, sent the
 * same campaign, replied too. Anna's bundle holds each piece of hers and nothing of Ben's; only
 * compliance and admin may ask for it; each request is recorded and listed in the audit.
 */
describe('access requests: everything held about one person', function () {
  this.timeout(60_000);
  let s: LeadScenario;
  let contact: number;

  before(async () => {
    s = await leadScenario();
    const { engine } = s.t;
    await saveUser(s.t.database.pool, { email: 'carl@example.com', name: 'Carl', role: 'compliance', password: PASSWORD });
    const reply = (from: string, id: string, subject: string, body: string) =>
      `From: ${from}\r\nTo: hello@127.0.0.1\r\nSubject: ${subject}\r\nMessage-ID: <${id}@example.com>\r\n\r\n${body}\r\n`;
    await engine.receiveReply(await parseInboundEmail(Buffer.from(reply('anna@example.com', 'anna-2', 'Re: more', LATER))));
    await engine.receiveReply(await parseInboundEmail(Buffer.from(reply('ben@example.com', 'ben-1', 'From Ben', BENS[2]!))));
    const { rows } = await s.t.database.pool.query<{ id: number }>(
      `SELECT c.id FROM inbound_contacts c JOIN leads l ON l.id = c.lead_id WHERE l.external_id = 'anna'`,
    );
    expect(rows, 'the later message joined the first contact').to.have.length(1);
    contact = rows[0]!.id;
    const reachable = await engine.inbox.reachable(ADMIN, contact);
    await engine.inbox.addNote(reachable, NOTE, ACTOR);
    await engine.inbox.close(reachable, { resolution: 'answered' }, ACTOR);
    await engine.inbox.answerCsat(contact, 4);
  });
  after(async () => s.close());

  it('holds her profile, events, enrollment, messages with content, replies, the closed contact with its note, her CSAT answer and the consent proof', async () => {
    const bundle = await s.t.engine.leads.accessRequest({ externalId: 'anna', requestedBy: 'user:carl@example.com', format: 'json' });
    expect(bundle.lead).to.include({ external_id: 'anna', email: 'anna@example.com', first_name: 'Anna', locale: 'de-DE' });
    expect(bundle.events.map((e) => e.name)).to.include('order_placed');
    expect(bundle.events.find((e) => e.name === 'order_placed')!.properties).to.deep.equal({ plan: 'pro' });
    expect(bundle.enrollments.map((e) => e.campaign)).to.include('spring');
    const sent = bundle.messages.find((m) => m.campaign === 'spring')!;
    expect(sent).to.include({ to_address: 'anna@example.com', status: 'sent' });
    expect(sent.body_text).to.be.a('string').and.not.equal('');
    expect(bundle.contacts).to.have.length(1);
    const [c] = bundle.contacts;
    expect(c).to.include({ id: contact, subject: REPLY_SUBJECT, status: 'closed', resolution: 'answered' });
    expect(c!.body_text).to.contain(REPLY_BODY);
    expect(c!.messages.map((m) => m.text)).to.deep.equal([LATER]);
    expect(c!.history.find((h) => h.action === 'note')!.detail).to.deep.equal({ text: NOTE });
    expect(c!.history.map((h) => h.action)).to.include('closed');
    expect(bundle.csat_answers).to.have.length(1);
    expect(bundle.csat_answers[0]).to.include({ contact_id: contact, score: 4 });
    expect(bundle.consent.lead.external_id).to.equal('anna');
    expect(bundle.consent.consent_events.map((e) => e.action)).to.deep.equal(['grant', 'confirm', 'withdraw']);
    expect(bundle.summary.join('\n')).to.contain('1 reply conversation(s) with 1 later message(s)');
    const text = JSON.stringify(bundle);
    for (const his of BENS) expect(text, his).not.to.contain(his);
  });

  it('is refused to marketer and service keys and answered to compliance and admin, each request recorded and listed in the audit', async () => {
    const base = `${s.web.base}/api/v1/leads/anna/export`;
    const ask = async (role: 'admin' | 'marketer' | 'service' | 'compliance') =>
      fetch(base, { headers: { authorization: `Bearer ${await apiKeyFor(s.t.database, role)}` } });
    expect((await ask('marketer')).status).to.equal(403);
    expect((await ask('service')).status).to.equal(403);
    const before = (await s.t.engine.leads.accessRequests('anna')).length;
    const answered = await ask('compliance');
    expect(answered.status).to.equal(200);
    expect(answered.headers.get('content-disposition')).to.contain('access-request-anna.json');
    const bundle = (await answered.json()) as AccessBundle;
    expect(bundle.request.requested_by).to.equal('key:compliance');
    expect((await ask('admin')).status).to.equal(200);
    const requests = await s.t.engine.leads.accessRequests('anna');
    expect(requests.map((r) => r.requested_by).slice(before)).to.deep.equal(['key:compliance', 'key:admin']);

    // From the audit page: a form with the session's token, recorded with the signed-in user.
    const carl = await logIn(s.web.base, 'carl@example.com', PASSWORD);
    const pageUrl = `${s.web.base}/audit/leads/anna`;
    const page = await (await fetch(pageUrl, { headers: { cookie: carl.cookie } })).text();
    expect(page).to.contain('id="access-request"').and.contain('key:admin');
    const post = (csrf: string) =>
      fetch(`${pageUrl}/export.json`, {
        method: 'POST',
        headers: { cookie: carl.cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf }).toString(),
      });
    expect((await post('forged')).status).to.equal(403);
    const downloaded = await post(carl.csrf);
    expect(downloaded.status).to.equal(200);
    expect(((await downloaded.json()) as AccessBundle).request.requested_by).to.equal('user:carl@example.com');
    expect((await s.t.engine.leads.accessRequests('anna')).at(-1)!.requested_by).to.equal('user:carl@example.com');
  });

  it('answers from the command line into a file, recorded as cli, as JSON or as a zip archive', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'access-'));
    const out = path.join(dir, 'anna.json');
    const env = { ...process.env, ...s.t.env, LOG_LEVEL: 'error' };
    const { stderr } = await exec(process.execPath, ['bin/touchpoint.js', 'leads', 'export', 'anna', '--out', out], { env });
    expect(stderr).to.contain(`written to ${out}`).and.contain('Personal data held about anna');
    const bundle = JSON.parse(fs.readFileSync(out, 'utf8')) as AccessBundle;
    expect(bundle.request.requested_by).to.equal('cli');
    expect(bundle.contacts[0]!.messages[0]!.text).to.equal(LATER);
    const before = (await s.t.engine.leads.accessRequests('anna')).length;
    const toTerminal = await exec(process.execPath, ['bin/touchpoint.js', 'leads', 'export', 'anna', '--format', 'zip'], { env }).catch(
      (err: { code: number; stderr: string }) => err,
    );
    expect(toTerminal).to.include({ code: 2 });
    expect((toTerminal as { stderr: string }).stderr).to.contain('--format zip needs --out FILE');
    expect(await s.t.engine.leads.accessRequests('anna')).to.have.length(before);

    const zipFile = path.join(dir, 'anna.zip');
    await exec(process.execPath, ['bin/touchpoint.js', 'leads', 'export', 'anna', '--format', 'zip', '--out', zipFile], { env });
    const files = unzip(fs.readFileSync(zipFile));
    expect([...files.keys()].slice(0, 2)).to.deep.equal(['summary.txt', 'access-request.json']);
    expect(files.get('summary.txt')!.toString()).to.contain('Personal data held about anna');
    const zipped = JSON.parse(files.get('access-request.json')!.toString()) as AccessBundle;
    expect(zipped.request).to.include({ requested_by: 'cli', format: 'zip' });
    expect(zipped.messages.map((m) => `messages/${String(m.id)}.txt`)).to.deep.equal([...files.keys()].slice(2));
    expect(files.get([...files.keys()][2]!)!.toString()).to.match(/^To: anna@example\.com\nSubject: /);
    expect(JSON.stringify([...files.values()].map(String))).not.to.contain('ben@example.com');

    // The API answers the same archive; a format it does not know is a 400 naming it.
    const api = async (format: string) =>
      fetch(`${s.web.base}/api/v1/leads/anna/export?format=${format}`, {
        headers: { authorization: `Bearer ${await apiKeyFor(s.t.database, 'admin')}` },
      });
    const archive = await api('zip');
    expect(archive.status).to.equal(200);
    expect(archive.headers.get('content-type')).to.equal('application/zip');
    expect(archive.headers.get('content-disposition')).to.contain('access-request-anna.zip');
    expect(unzip(Buffer.from(await archive.arrayBuffer())).has('access-request.json')).to.equal(true);
    const pdf = await api('pdf');
    expect(pdf.status).to.equal(400);
    expect(await pdf.text()).to.contain('format');
  });
});

/**
 * The files of a ZIP archive by name, read by its central directory as the format describes it
 * (APPNOTE 4.3.12, 4.3.16), each inflated and held to its CRC-32.
 */
function unzip(archive: Buffer): Map<string, Buffer> {
  const end = archive.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  expect(end, 'end of central directory').to.be.at.least(0);
  const files = new Map<string, Buffer>();
  let at = archive.readUInt32LE(end + 16);
  for (let i = 0; i < archive.readUInt16LE(end + 10); i++) {
    expect(archive.readUInt32LE(at)).to.equal(0x02014b50);
    const [method, crc, size, length, nameLength, extra, comment, local] = [
      archive.readUInt16LE(at + 10),
      archive.readUInt32LE(at + 16),
      archive.readUInt32LE(at + 20),
      archive.readUInt32LE(at + 24),
      archive.readUInt16LE(at + 28),
      archive.readUInt16LE(at + 30),
      archive.readUInt16LE(at + 32),
      archive.readUInt32LE(at + 42),
    ];
    const name = archive.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    expect(archive.readUInt32LE(local)).to.equal(0x04034b50);
    const start = local + 30 + archive.readUInt16LE(local + 26) + archive.readUInt16LE(local + 28);
    const data = zlib.inflateRawSync(archive.subarray(start, start + size));
    expect({ name, method, length: data.length, crc: zlib.crc32(data) }).to.deep.equal({ name, method: 8, length, crc });
    files.set(name, data);
    at += 46 + nameLength + extra + comment;
  }
  return files;
}
