import path from 'node:path';
import { expect } from 'chai';
import { createApiKey } from '../../src/access/keys.ts';
import type { Role } from '../../src/access/schema.ts';
import { saveUser } from '../../src/access/users.ts';
import { ManualClock } from '../../src/clock.ts';
import { parseInboundEmail } from '../../src/inbound/email.ts';
import { seedLeads } from '../helpers/seed.ts';
import { logIn, useServedEngine } from '../helpers/web.ts';

const PASSWORD = 'correct horse battery';
const MINUTE = 60_000;
const T0 = new Date('2026-11-02T08:00:00Z');

/**
 * The desk through the API (the browser test does the pages): search within reach with German and
 * English stems and hostile queries, notes, canned answers in the person's language, the service
 * levels per queue with known times, and what a queue lead sees of their team.
 */
describe('the desk: search, notes, canned answers, service levels, the team', function () {
  this.timeout(60_000);
  const clock = new ManualClock(T0);
  const served = useServedEngine(
    { CAMPAIGNS_DIR: path.resolve('test/fixtures/desk/campaigns'), TEMPLATES_DIR: path.resolve('test/fixtures/inbound/templates') },
    clock,
  );
  const keys: Record<string, string> = {};
  const ids: Record<string, number> = {};

  const call = async (who: string, method: string, p: string, body?: unknown) => {
    const res = await fetch(served().web.base + p, {
      method,
      headers: { authorization: `Bearer ${keys[who]}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  const found = async (who: string, q: string) => {
    const res = await call(who, 'GET', `/api/v1/inbound?q=${encodeURIComponent(q)}`);
    expect(res.status, `${who} q=${q}`).to.equal(200);
    return (res.body.contacts as { id: number }[]).map((c) => c.id).sort((a, b) => a - b);
  };
  const receive = async (from: string, id: string, subject: string, text: string) => {
    const mail = await parseInboundEmail(
      Buffer.from(`From: ${from}\r\nTo: hello@127.0.0.1\r\nSubject: ${subject}\r\nMessage-ID: <${id}>\r\n\r\n${text}\r\n`),
    );
    return (await served().t.engine.receiveReply(mail))!.contactId!;
  };

  before(async () => {
    const { t } = served();
    for (const [email, name] of [
      ['ann@example.com', 'Ann Agent'],
      ['gus@example.com', 'Gus'],
      ['lena@example.com', 'Lena Lead'],
    ] as const) {
      await saveUser(t.database.pool, { email, name, role: 'service', password: PASSWORD });
      keys[email.split('@')[0]!] = (await createApiKey(t.database.pool, 'service', email, email)).key;
    }
    for (const role of ['admin', 'marketer', 'compliance'] as Role[]) keys[role] = (await createApiKey(t.database.pool, role, role)).key;
    await seedLeads(
      t.database,
      [{ id: 'pat', email: 'pat@example.com', first: 'Pat', locale: 'de-AT', orders: 1, consent: ['grant', 'confirm'] }],
      new Date(T0.getTime() - 86_400_000),
    );
    // Retention (ann, led by lena): Pat wants to cancel, in German, and two others in English (each a
    // contact of their own: one person writing again within days joins their contact, see thread.ts);
    // general (gus): a stranger's parcel.
    ids.pat = await receive(
      'pat@example.com',
      'p1@x',
      'Kündigung',
      'Meine Lieferungen kommen nie an, ich will kündigen. Bitte rufen Sie an.',
    );
    clock.advance(10 * MINUTE);
    ids.second = await receive('max@example.org', 'p2@x', 'Again', 'I want to cancel: the deliveries never arrive.');
    clock.advance(10 * MINUTE);
    ids.third = await receive('uli@example.org', 'p3@x', 'Third', 'Cancel it, please.');
    ids.stranger = await receive('someone@example.org', 's1@x', 'Parcel', 'Where is my parcel? Lieferung fehlt.');
  });

  it('finds replies by German and English stems, within each person’s reach only', async () => {
    const { pat, second, third, stranger } = ids as Record<string, number>;
    // German: "Lieferung" finds "Lieferungen"; English: "delivery" finds "deliveries".
    expect(await found('ann', 'Lieferung')).to.deep.equal([pat]);
    expect(await found('gus', 'Lieferung')).to.deep.equal([stranger]);
    expect(await found('admin', 'Lieferung')).to.deep.equal([pat, stranger]);
    expect(await found('ann', 'delivery')).to.deep.equal([second]);
    expect(await found('ann', 'cancel -deliveries')).to.deep.equal([third]);
    expect(await found('ann', 'kündigung')).to.deep.equal([pat]);
    expect(await found('ann', '"never arrive"')).to.deep.equal([second]);
    expect(await found('ann', 'parcel')).to.deep.equal([]);
    expect(await found('compliance', 'parcel')).to.deep.equal([stranger]);
    // Pat writes again: the message joins her contact, and its words find the contact too.
    expect(await receive('pat@example.com', 'p4@x', 'Rechnung', 'Und die Rechnungen stimmen auch nicht.')).to.equal(pat);
    expect(await found('ann', 'Rechnung')).to.deep.equal([pat]);
    expect(await found('gus', 'Rechnung')).to.deep.equal([]);
    expect((await call('marketer', 'GET', '/api/v1/inbound?q=parcel')).status).to.equal(403);
  });

  it('takes hostile queries as words (never an error, never a contact outside reach), and refuses oversized ones with 400', async () => {
    for (const q of [
      "' OR 1=1 --",
      "parcel') OR ('a'='a",
      '!!(&|:*<->',
      'parcel:* | !x',
      '\\',
      '""',
      'or',
      '-',
      'a & b | c ! d',
      '(((((((((',
    ]) {
      const res = await call('ann', 'GET', `/api/v1/inbound?q=${encodeURIComponent(q)}`);
      expect(res.status, q).to.equal(200);
      expect(
        (res.body.contacts as { id: number }[]).map((c) => c.id),
        q,
      ).not.to.include(ids.stranger);
    }
    expect((await call('ann', 'GET', `/api/v1/inbound?q=${'word '.repeat(41)}`)).status).to.equal(400);
    expect((await call('ann', 'GET', '/api/v1/inbound?q=parcel%00')).status).to.equal(400);
    expect((await call('ann', 'GET', '/api/v1/inbound?q=')).status).to.equal(400);
  });

  it('keeps notes with who and when, apart from the history, for the team only', async () => {
    const note = await call('ann', 'POST', `/api/v1/inbound/${ids.pat}/notes`, { text: 'Customer since 2019 <b>VIP</b>' });
    expect(note.status).to.equal(201);
    const notes = note.body.notes as { author: string; at: string; text: string }[];
    expect(notes).to.deep.equal([
      { author: 'key:ann@example.com for ann@example.com', at: clock.now().toISOString(), text: 'Customer since 2019 <b>VIP</b>' },
    ]);
    expect((note.body.history as { action: string }[]).map((h) => h.action)).not.to.include('note');
    expect((await call('gus', 'POST', `/api/v1/inbound/${ids.pat}/notes`, { text: 'not mine' })).status).to.equal(404);
    expect((await call('compliance', 'POST', `/api/v1/inbound/${ids.pat}/notes`, { text: 'read only' })).status).to.equal(403);
    // Pat's own timeline (as the lead page and a lead's API show it) holds no note.
    expect(JSON.stringify((await call('admin', 'GET', '/api/v1/leads/pat/timeline')).body)).not.to.contain('VIP');
  });

  it('renders canned answers in the person’s language with the agent’s name, strictly', async () => {
    const list = await call('ann', 'GET', '/api/v1/inbound/canned-answers');
    expect(list.body.canned_answers).to.deep.equal([
      { name: 'call-back', locales: [] },
      { name: 'thanks', locales: ['de'] },
    ]);
    // Pat's locale is de-AT: the German variant, through its language.
    const german = await call('ann', 'GET', `/api/v1/inbound/${ids.pat}/canned-answers/thanks`);
    expect(german.status).to.equal(200);
    expect(german.body.locale).to.equal('de');
    expect(german.body.text)
      .to.match(/^Hallo Pat,/)
      .and.to.contain('Ann Agent');
    // Someone we do not know gets the guarded greeting; no hole, no error.
    const stranger = await call('gus', 'GET', `/api/v1/inbound/${ids.stranger}/canned-answers/thanks`);
    expect(stranger.body).to.include({ locale: null });
    expect(stranger.body.text)
      .to.match(/^Hello,/)
      .and.to.contain('Gus');
    // Pat has no phone on file: the answer that reads it is refused, naming the field.
    const callBack = await call('ann', 'GET', `/api/v1/inbound/${ids.pat}/canned-answers/call-back`);
    expect(callBack.status).to.equal(422);
    expect(callBack.body.message).to.contain('phone');
    for (const name of ['nope', '..%2F..%2Fconsent-confirmation%2Fdefault', 'thanks.de'])
      expect((await call('ann', 'GET', `/api/v1/inbound/${ids.pat}/canned-answers/${name}`)).status, name).to.equal(404);
    expect((await call('gus', 'GET', `/api/v1/inbound/${ids.pat}/canned-answers/thanks`)).status).to.equal(404);
  });

  it('reports first response and resolution (median, p90) and breaches per queue, to its lead and admins only', async () => {
    const act = async (id: number, action: string, body: Record<string, string>, at: number) => {
      clock.set(new Date(T0.getTime() + at * MINUTE));
      expect((await call('admin', 'POST', `/api/v1/inbound/${id}/${action}`, body)).status, `${action} ${id}`).to.equal(200);
    };
    // Retention's first response is due 4 h after receipt: the second contact is answered late, the third never.
    await act(ids.pat!, 'accept', { user: 'ann@example.com' }, 30);
    await act(ids.pat!, 'close', { resolution: 'kept', user: 'ann@example.com' }, 120);
    await act(ids.second!, 'accept', { user: 'ann@example.com' }, 300);
    await act(ids.second!, 'close', { resolution: 'kept', user: 'ann@example.com' }, 360);
    await act(ids.stranger!, 'accept', { user: 'gus@example.com' }, 80);
    clock.set(new Date(T0.getTime() + 300 * MINUTE));
    const levels = await call('lena', 'GET', '/api/v1/inbound/service-levels');
    expect(levels.status).to.equal(200);
    expect(levels.body.queues).to.deep.equal([
      {
        queue: 'retention',
        contacts: 3,
        first_response: { count: 2, median_minutes: 160, p90_minutes: 264 },
        resolution: { count: 2, median_minutes: 235, p90_minutes: 327 },
        breaches: 2,
        unanswered: 1,
        open: 1,
      },
      {
        queue: 'general',
        contacts: 1,
        first_response: { count: 1, median_minutes: 60, p90_minutes: 60 },
        resolution: { count: 0, median_minutes: null, p90_minutes: null },
        breaches: 0,
        unanswered: 0,
        open: 1,
      },
    ]);
    expect((await call('admin', 'GET', '/api/v1/inbound/service-levels')).body.queues).to.deep.equal(levels.body.queues);
    // A member who leads no queue sees none; a period before anything arrived counts nothing.
    expect((await call('ann', 'GET', '/api/v1/inbound/service-levels')).body.queues).to.deep.equal([]);
    const before = await call('lena', 'GET', '/api/v1/inbound/service-levels?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z');
    expect((before.body.queues as { contacts: number }[]).map((q) => q.contacts)).to.deep.equal([0, 0]);
    expect((await call('compliance', 'GET', '/api/v1/inbound/service-levels')).status).to.equal(403);
  });

  it('shows a queue lead each member’s availability and load on the inbox page, and away members get no new contacts', async () => {
    const { t, web } = served();
    await t.engine.access.setAvailable((await t.engine.access.findActiveUser('gus@example.com'))!.id, false);
    const lena = await logIn(web.base, 'lena@example.com', PASSWORD);
    const html = await (await fetch(`${web.base}/inbox`, { headers: { cookie: lena.cookie } })).text();
    const row = (email: string) => new RegExp(`<tr data-member="${email}">[\\s\\S]*?</tr>`).exec(html)?.[0] ?? '';
    expect(row('ann@example.com')).to.contain('data-available="true"');
    expect(row('gus@example.com')).to.contain('data-available="false"').and.contain('away');
    expect(row('bob@example.com')).to.contain('no active user');
    expect(html).to.contain('id="service-levels"');
    const ann = await logIn(web.base, 'ann@example.com', PASSWORD);
    const own = await (await fetch(`${web.base}/inbox`, { headers: { cookie: ann.cookie } })).text();
    expect(own).not.to.contain('id="team"');
    expect(own).not.to.contain('id="service-levels"');
    // Gus is away: a new general contact does not land on him but on the queue's lead, with the reason.
    const waiting = await receive('other@example.org', 's2@x', 'Hello', 'Anyone there?');
    const contact = await call('admin', 'GET', `/api/v1/inbound/${waiting}`);
    expect(contact.body).to.include({ status: 'assigned', queue: 'general' });
    const assigned = (contact.body.history as { action: string; detail: Record<string, unknown> }[]).find((h) => h.action === 'assigned');
    expect(assigned?.detail).to.include({ to: 'lena@example.com' }).and.to.have.property('reason');
  });

  it('turns notification emails off and on from the page header', async () => {
    const { t, web } = served();
    const ann = await logIn(web.base, 'ann@example.com', PASSWORD);
    const toggle = async (notify: string) => {
      const res = await fetch(`${web.base}/me/notifications`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: ann.cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: ann.csrf, notify }).toString(),
      });
      expect(res.status).to.equal(303);
      return (await t.engine.access.findActiveUser('ann@example.com'))!.notify;
    };
    expect(await toggle('false')).to.equal(false);
    const page = await (await fetch(`${web.base}/inbox`, { headers: { cookie: ann.cookie } })).text();
    expect(page).to.contain('data-notify="false"');
    expect(await toggle('true')).to.equal(true);
  });

  it('erasing the person drops the text of the notes about them', async () => {
    await served().t.engine.leads.erase('pat');
    const contact = await call('admin', 'GET', `/api/v1/inbound/${ids.pat}`);
    expect((contact.body.notes as { text: string }[]).map((n) => n.text)).to.deep.equal(['']);
    expect(await found('admin', 'Lieferung')).to.deep.equal([ids.stranger]);
    expect((await call('ann', 'POST', `/api/v1/inbound/${ids.pat}/notes`, { text: 'more' })).status).to.equal(409);
  });
});
