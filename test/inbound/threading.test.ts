import path from 'node:path';
import { expect } from 'chai';
import { createApiKey } from '../../src/access/keys.ts';
import { saveUser, setAvailable } from '../../src/access/users.ts';
import { loadCampaignSet } from '../../src/campaigns/load.ts';
import { ManualClock } from '../../src/clock.ts';
import { LOCKS, lockForTransaction } from '../../src/db/locks.ts';
import { formatProblem } from '../../src/yaml/problems.ts';
import { testEngine, until, type TestEngine } from '../helpers/engine.ts';
import { logIn } from '../helpers/login.ts';
import { seedLeads, type SeedLead } from '../helpers/seed.ts';
import { postTwilioWebhook } from '../helpers/twilio-server.ts';
import { startWeb, type TestWeb } from '../helpers/web.ts';

const FIXTURE = path.resolve('test/fixtures/threading');
const TOKEN = 'e'.repeat(32);
const PASSWORD = 'correct horse battery';
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const CAROL = '+4915112345678';
const DAVE = '+4915100000002';
const ERIN = '+4915100000003';

interface Contact {
  id: number;
  status: string;
  assignee: string | null;
  category: string;
  priority: string;
  due_at: string;
  repeat_of: number | null;
  follow_ups: { channel: string; text: string }[];
  history: { action: string; actor: string; detail: Record<string, unknown> }[];
}

function lead(id: string, phone: string): SeedLead {
  return { id, email: `${id}@example.com`, phone, first: id, locale: 'en-GB', orders: 1, consent: ['grant', 'confirm'], sms: ['grant'] };
}

describe('one conversation per person and matter', function () {
  this.timeout(60_000);
  let t: TestEngine;
  let web: TestWeb;
  let clock: ManualClock;
  let admin: string;
  let ann: string;
  let marketer: string;
  let sid = 0;

  beforeEach(async () => {
    clock = new ManualClock('2026-03-02T10:00:00Z');
    web = await startWeb();
    t = await testEngine(
      {
        CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'),
        TEMPLATES_DIR: path.resolve('test/fixtures/inbound/templates'),
        PUBLIC_URL: web.base,
        TWILIO_ACCOUNT_SID: `AC${'a'.repeat(32)}`,
        TWILIO_AUTH_TOKEN: TOKEN,
        TWILIO_FROM: '+15005550006',
      },
      clock,
    );
    web.serve(t.engine);
    for (const email of ['ann@example.com', 'bob@example.com', 'lena@example.com'])
      await saveUser(t.database.pool, { email, role: 'service', password: PASSWORD, languages: ['en'] });
    admin = (await createApiKey(t.database.pool, 'admin', 'admin')).key;
    ann = (await createApiKey(t.database.pool, 'service', 'ann', 'ann@example.com')).key;
    marketer = (await createApiKey(t.database.pool, 'marketer', 'marketer')).key;
    await seedLeads(t.database, [lead('carol', CAROL), lead('dave', DAVE), lead('erin', ERIN)], new Date('2026-03-01T10:00:00Z'));
  });
  afterEach(async () => {
    await web.close();
    await t.close();
  });

  /** A text as Twilio delivers it: a signed webhook. */
  async function text(from: string, body: string, messageSid = `SM${String(++sid).padStart(32, '0')}`): Promise<void> {
    const res = await postTwilioWebhook(`${web.base}/webhooks/twilio/sms`, TOKEN, {
      MessageSid: messageSid,
      From: from,
      To: '+15005550006',
      Body: body,
    });
    expect(res.status).to.equal(200);
  }
  async function api<T>(method: string, p: string, body?: unknown, key = admin): Promise<T> {
    const res = await fetch(`${web.base}/api/v1${p}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(res.status, `${method} ${p}: ${await res.clone().text()}`).to.be.oneOf([200, 202]);
    return (await res.json()) as T;
  }
  const contacts = async () => (await api<{ contacts: { id: number; lead: string }[] }>('GET', '/inbound?automatic=false')).contacts;
  const contact = (id: number) => api<Contact>('GET', `/inbound/${id}`);
  const newest = async (who: string) => contact((await contacts()).filter((c) => c.lead === who).sort((a, b) => b.id - a.id)[0]!.id);

  it('a follow-up SMS joins the open contact: one contact, one agent, the due time as the SLA says', async () => {
    await text(CAROL, 'My parcel has not arrived.');
    const first = await newest('carol');
    expect(first).to.include({ status: 'assigned', assignee: 'ann@example.com' });
    // bob has fewer open contacts now; the follow-up still goes nowhere but to ann's contact.
    clock.advance(20 * 60 * 1000);
    const again = `SM${'9'.repeat(32)}`;
    await text(CAROL, 'It was due on Friday.', again);
    await text(CAROL, 'It was due on Friday.', again);
    expect(await contacts()).to.have.length(1);
    const joined = await contact(first.id);
    expect(joined).to.include({ assignee: 'ann@example.com', due_at: first.due_at });
    expect(joined.follow_ups.map((m) => m.text)).to.deep.equal(['It was due on Friday.']);
    expect(joined.history.map((h) => h.action)).to.deep.equal(['received', 'assigned', 'message']);
    // The agent sees it on the contact's page, under the first message.
    const page = await (await (await logIn(web.base, 'ann@example.com', PASSWORD)).page(`/inbox/${first.id}`)).text();
    expect(page.indexOf('It was due on Friday.')).to.be.greaterThan(page.indexOf('My parcel has not arrived.'));
    // The person's history holds the later message too, its words only for those the reach rule lets read replies.
    const timeline = async (key: string) =>
      (
        await api<{ timeline: { kind: string; detail: { text: string | null } }[] }>('GET', '/leads/carol/timeline', undefined, key)
      ).timeline
        .filter((e) => e.kind === 'reply')
        .map((e) => e.detail.text);
    expect(await timeline(admin)).to.deep.equal(['It was due on Friday.', 'My parcel has not arrived.']);
    expect(await timeline(marketer)).to.deep.equal([null, null]);

    // Once answered, the next message is due for an answer a first-response time (4h) after it arrives.
    await api('POST', `/inbound/${first.id}/reply`, { text: 'Let me check.' }, ann);
    clock.advance(HOUR);
    await text(CAROL, 'Any news? It is broken now too.');
    const later = await contact(first.id);
    expect(new Date(later.due_at).toISOString()).to.equal(new Date(clock.now().getTime() + 4 * HOUR).toISOString());
    // Its words qualify as a complaint: the conversation takes the more urgent priority.
    expect(later).to.include({ priority: 'urgent', category: 'other', assignee: 'ann@example.com' });
    expect(later.follow_ups).to.have.length(2);
  });

  it('two texts of one person arriving together make one contact', async () => {
    // Assignment to the queue is held up, so the first text's transaction stays open after it made
    // its contact: the second arrives while the first is uncommitted, as a long text split in two does.
    const holder = await t.database.pool.connect();
    try {
      await holder.query('BEGIN');
      await lockForTransaction(holder, LOCKS.assignQueue, 'service');
      const both = Promise.all([text(DAVE, 'My order arrived'), text(DAVE, 'but the lid is missing.')]);
      await until(async () => {
        const { rows } = await holder.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`);
        return rows[0].n === 2 || undefined;
      });
      await holder.query('COMMIT');
      await both;
    } finally {
      holder.release();
    }
    expect((await contacts()).map((c) => c.lead)).to.deep.equal(['dave']);
    expect((await newest('dave')).follow_ups).to.have.length(1);
  });

  it('a reply after closing reopens the contact for the same agent, or for the queue when they are away', async () => {
    await text(CAROL, 'Where is my parcel?');
    const first = await newest('carol');
    await api('POST', `/inbound/${first.id}/reply`, { text: 'It ships today.' }, ann);
    await api('POST', `/inbound/${first.id}/close`, { resolution: 'answered' }, ann);
    // Dave's contact goes to ann too (equal load, lower id): now bob is the least loaded.
    await text(DAVE, 'Hello?');
    clock.advance(2 * DAY);
    await text(CAROL, 'It still has not come.');
    expect((await contacts()).filter((c) => c.lead === 'carol')).to.have.length(1);
    const reopened = await contact(first.id);
    expect(reopened).to.include({ status: 'assigned', assignee: 'ann@example.com' });
    expect(reopened.history.at(-1)).to.deep.include({ action: 'reopened', actor: 'system' });
    expect(reopened.history.at(-1)!.detail).to.include({ to: 'ann@example.com', queue: 'service' });

    // Closed again, and ann is away: the reply reopens it for whoever the queue gives it to.
    await api('POST', `/inbound/${first.id}/close`, { resolution: 'answered' }, ann);
    const annUser = (await t.database.pool.query(`SELECT id FROM users WHERE email = 'ann@example.com'`)).rows[0].id as number;
    await setAvailable(t.database.pool, annUser, false);
    clock.advance(DAY);
    await text(CAROL, 'Still nothing!');
    expect(await contact(first.id)).to.include({ status: 'assigned', assignee: 'bob@example.com' });
  });

  it('a new matter 14 days later is a repeat contact, offered to the same agent first; the repeat rate counts it', async () => {
    const start = clock.now();
    await text(CAROL, 'Where is my parcel?');
    const first = await newest('carol');
    await api('POST', `/inbound/${first.id}/close`, { resolution: 'answered' }, ann);
    await text(DAVE, 'Hello?');
    clock.advance(14 * DAY);
    await text(CAROL, 'My new parcel is missing.');
    const repeat = await newest('carol');
    expect(repeat.id).to.not.equal(first.id);
    // ann already has dave's contact and bob none, yet ann handled carol's earlier contact.
    expect(repeat).to.include({ repeat_of: first.id, assignee: 'ann@example.com', status: 'assigned' });
    expect(repeat.history[0]!.detail).to.include({ repeat_of: first.id });
    const page = await (await (await logIn(web.base, 'ann@example.com', PASSWORD)).page(`/inbox/${repeat.id}`)).text();
    expect(page).to.contain(`href="/inbox/${first.id}">repeat of #${first.id}</a>`);
    // A day more and it would be a new matter, no repeat.
    clock.advance(15 * DAY);
    await text(DAVE, 'Hello again?');
    expect(await newest('dave')).to.include({ repeat_of: null });

    const rates = await api<{ by_queue: unknown[] }>(
      'GET',
      `/reports/repeats?from=${start.toISOString()}&to=${new Date(clock.now().getTime() + 1).toISOString()}`,
    );
    expect(rates.by_queue).to.deep.equal([{ queue: 'service', contacts: 4, repeats: 1, rate: 0.25 }]);
  });

  it('assignment honours required skills, and falls back to the queue lead with the reason recorded', async () => {
    await text(DAVE, 'Hello?');
    // ann is less loaded than bob from here on, but only bob has the `complaints` skill.
    await text(CAROL, 'This is a complaint: the box was broken.');
    expect(await newest('carol')).to.include({ category: 'complaint', assignee: 'bob@example.com' });
    // Nobody has `billing`: the queue lead takes it, and the contact's history says why.
    await text(ERIN, 'My invoice is wrong.');
    const billing = await newest('erin');
    expect(billing).to.include({ assignee: 'lena@example.com' });
    expect(billing.history.at(-1)).to.deep.include({ action: 'assigned' });
    expect(billing.history.at(-1)!.detail).to.deep.equal({
      to: 'lena@example.com',
      queue: 'service',
      reason: "no available member of queue 'service' speaks 'en' and has the skill 'billing': the queue lead takes it",
    });
  });

  it('validate warns about a skill a rule requires that no member has, at its line and column', () => {
    const set = loadCampaignSet({
      campaignsDir: path.join(FIXTURE, 'campaigns'),
      templatesDir: path.resolve('test/fixtures/inbound/templates'),
    });
    expect(set.problems.map((p) => formatProblem(p, FIXTURE))).to.deep.equal([
      "campaigns/inbound.yaml:18:14 warning: no member of any queue has the skill 'billing'; its contacts go to the queue lead (give a member `{ user: <login>, skills: [billing] }`)",
    ]);
    expect(set.inbound.queues[0]!.skills).to.deep.equal({ 'ann@example.com': [], 'bob@example.com': ['complaints'] });
  });
});
