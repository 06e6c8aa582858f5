import fs, { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { createApiKey } from '../../src/access/keys.ts';
import { loadCampaignSet } from '../../src/campaigns/load.ts';
import { segmentEventName } from '../../src/leads/segment.ts';
import { formatProblem } from '../../src/yaml/problems.ts';
import { until } from '../helpers/engine.ts';
import { seedLeads } from '../helpers/seed.ts';
import { recipient, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';
import { testApp, type TestApp } from '../helpers/web.ts';

const FIXTURE = path.resolve('test/fixtures/segment');
/** Payloads as the Segment Tracking API spec's examples write them. */
const spec = (name: string) => JSON.parse(readFileSync(path.join(FIXTURE, `${name}.json`), 'utf8')) as Record<string, unknown>;

describe('Segment-compatible intake (/api/v1/segment)', function () {
  this.timeout(60_000);
  let t: TestApp;
  let sink: SmtpSink;
  let key: string;
  let base: string;

  before(async () => {
    sink = await startSmtpSink();
    t = await testApp({ SMTP_URL: sink.url, CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns') });
    key = (await createApiKey(t.database.pool, 'marketer', 'segment')).key;
    base = t.base;
    await t.engine.startDispatcher();
  });
  after(async () => {
    await t.close();
    await sink.close();
  });

  /** As a Segment destination sends it: the write key as basic-auth user, an empty password. */
  const basic = (writeKey: string) => `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;

  async function post(route: string, body: unknown, authorization = basic(key)) {
    const res = await fetch(`${base}/api/v1/segment/${route}`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { details?: string[] } };
  }
  const lead = (externalId: string) => t.engine.leads.find(externalId);
  async function eventsOf(externalId: string) {
    const { rows } = await t.database.pool.query<{
      name: string;
      properties: Record<string, unknown>;
      occurred_at: Date;
      event_key: string;
    }>(
      `SELECT e.name, e.properties, e.occurred_at, e.event_key FROM events e JOIN leads l ON l.id = e.lead_id WHERE l.external_id = $1 ORDER BY e.id`,
      [externalId],
    );
    return rows;
  }

  it('maps Segment event names to ours: lowercase, runs of other characters as one _', () => {
    expect(segmentEventName('Item Purchased')).to.equal('item_purchased');
    expect(segmentEventName('Order Completed (v2)')).to.equal('order_completed_v2');
    expect(segmentEventName('signed_up')).to.equal('signed_up');
    expect(segmentEventName('checkout.step-2')).to.equal('checkout.step-2');
    expect(segmentEventName('123')).to.equal(undefined);
  });

  it('identify (the spec example) creates the lead with its reserved traits as fields and the others as attributes', async () => {
    const res = await post('identify', spec('identify'));
    expect(res.status).to.equal(201);
    expect(res.body).to.include({ identified: 1, created: 1, recorded: 0 });
    const peter = (await lead('97980cfea0067'))!;
    expect(peter).to.include({
      email: 'peter@example.com',
      firstName: 'Peter',
      lastName: 'Gibbons',
      locale: 'en-US',
      timezone: 'America/Los_Angeles',
    });
    expect(peter.attributes).to.deep.equal({
      plan: 'premium',
      logins: 5,
      'address.street': '6th St',
      'address.city': 'San Francisco',
      'address.state': 'CA',
      'address.postalCode': '94103',
      'address.country': 'USA',
    });

    // A later identify sets only what it names: the email and the name stay, the plan changes.
    const later = await post('identify', { userId: '97980cfea0067', traits: { plan: 'enterprise', firstName: 'Pete' } });
    expect(later.status).to.equal(200);
    expect(await lead('97980cfea0067')).to.deep.include({ email: 'peter@example.com', firstName: 'Pete', lastName: 'Gibbons' });
    expect((await lead('97980cfea0067'))!.attributes).to.include({ plan: 'enterprise', logins: 5 });
  });

  it('track (the spec example) records the event under our name once, however often its messageId is replayed', async () => {
    await post('identify', { userId: '019mr8mf4r', traits: { email: 'mat@example.com' } });
    const first = await post('track', spec('track'));
    expect(first.status).to.equal(201);
    expect(first.body).to.include({ recorded: 1, duplicates: 0 });
    const replay = await post('track', spec('track'));
    expect(replay.status).to.equal(200);
    expect(replay.body).to.include({ recorded: 0, duplicates: 1 });
    const events = await eventsOf('019mr8mf4r');
    expect(events).to.have.length(1);
    expect(events[0]).to.deep.include({
      name: 'item_purchased',
      properties: { name: 'Leap to Conclusions Mat', revenue: 14.99 },
      event_key: '022bb90c-bbac-11e4-8dfc-aa07a5b093db',
    });
    expect(events[0]!.occurred_at.toISOString()).to.equal('2015-02-23T22:28:55.111Z');
  });

  it('batch (the spec example) identifies and tracks in order, and ignores the types it does not take', async () => {
    const res = await post('batch', spec('batch'));
    expect(res.status).to.equal(201);
    // 019mr8mf4r is known from the track test: only Cathy is new.
    expect(res.body).to.include({ identified: 2, created: 1, recorded: 2, ignored: 1 });
    expect(await lead('019mr8mf4r')).to.deep.include({ email: 'jake@example.com', firstName: 'Jake', lastName: 'Peterson' });
    expect(await lead('971mj8mk7p')).to.deep.include({ email: 'cathy@example.com', firstName: 'Cathy', lastName: 'Johnson' });
    expect((await lead('971mj8mk7p'))!.attributes).to.deep.equal({ age: 34 });
    expect((await eventsOf('971mj8mk7p')).map((e) => e.name)).to.deep.equal(['song_played']);
    const replay = await post('batch', spec('batch'));
    expect(replay.body).to.include({ recorded: 0, duplicates: 2 });
  });

  it('an event campaign starts from a track: a consenting lead gets the message, one without consent is suppressed', async () => {
    await seedLeads(t.database, [
      { id: 'buyer-1', email: 'buyer-1@example.com', first: 'Bo', locale: null, orders: 1, consent: ['grant', 'confirm'] },
    ]);
    const purchase = { ...spec('track'), userId: 'buyer-1', messageId: 'purchase-buyer-1', timestamp: new Date().toISOString() };
    const res = await post('track', purchase, `Bearer ${key}`);
    expect(res.status).to.equal(201);
    expect(res.body).to.include({ recorded: 1, enrolled: 1, queued: 1 });
    await sink.waitFor(1, 20_000);
    expect(sink.messages.map(recipient)).to.deep.equal(['buyer-1@example.com']);

    // A person we learn of from the track itself (context.traits.email) has given no consent.
    const stranger = {
      ...purchase,
      userId: 'stranger-1',
      messageId: 'purchase-stranger-1',
      context: { traits: { email: 'stranger@example.com' } },
    };
    const refused = await post('track', stranger);
    expect(refused.body).to.include({ recorded: 1, enrolled: 1, queued: 0, suppressed: 1 });
    await until(async () => {
      const { rows } = await t.database.pool.query(`SELECT count(*)::int AS n FROM messages WHERE status IN ('queued', 'sending')`);
      return rows[0].n === 0 ? true : undefined;
    });
    expect(sink.messages.map(recipient)).to.deep.equal(['buyer-1@example.com']);
  });

  it('takes the key as basic-auth user or as bearer token, and answers 401 to a wrong one', async () => {
    const body = { userId: 'auth-1', traits: { email: 'auth-1@example.com' } };
    expect((await post('identify', body, basic(key))).status).to.equal(201);
    expect((await post('identify', body, `Bearer ${key}`)).status).to.equal(200);
    expect((await post('identify', body, basic('tp_not_a_key'))).status).to.equal(401);
    expect((await post('identify', body, `Bearer tp_not_a_key`)).status).to.equal(401);
    expect((await post('identify', body, `Basic ${Buffer.from(`${key}:a-password`).toString('base64')}`)).status).to.equal(401);
    expect((await post('identify', body, '')).status).to.equal(401);
    // Basic auth is for Segment's routes only; the rest of the API keeps to bearer keys.
    const events = await fetch(`${base}/api/v1/events`, {
      method: 'POST',
      headers: { authorization: basic(key), 'content-type': 'application/json' },
      body: JSON.stringify({ lead: 'auth-1', event: 'visited' }),
    });
    expect(events.status).to.equal(401);
  });

  it('answers 400 naming the item of a batch, and writes nothing of a batch with a bad item', async () => {
    const res = await post('batch', {
      batch: [
        { type: 'identify', userId: 'bad-1', traits: { email: 'bad-1@example.com' } },
        { type: 'track', userId: 'bad-1' },
        { type: 'identify', userId: 'bad-2', traits: { plan: 'free' } },
        { type: 'track', anonymousId: 'bad-1', event: '!!!' },
        { type: 'launch' },
      ],
    });
    expect(res.status).to.equal(400);
    expect(res.body.details).to.deep.equal(['batch[4].type must be one of [track, identify, page, screen, group, alias]']);
    const items = await post('batch', {
      batch: [
        { type: 'identify', userId: 'bad-1', traits: { email: 'bad-1@example.com' } },
        { type: 'track', userId: 'bad-1' },
        { type: 'identify', userId: 'bad-2', traits: { plan: 'free' } },
        { type: 'track', anonymousId: 'bad-1', event: '!!!' },
        { type: 'track', event: 'Signed Up' },
      ],
    });
    expect(items.status).to.equal(400);
    expect(items.body.details).to.deep.equal([
      'batch[1]: event is required',
      'batch[2]: a lead needs an email or a phone',
      "batch[3]: event '!!!' has no letter to start a name with",
      'batch[4]: a message needs a userId or an anonymousId',
    ]);
    expect(await lead('bad-1')).to.equal(undefined);
    const single = await post('track', { event: 'Item Purchased' });
    expect(single.status).to.equal(400);
  });

  it('reads nested traits four levels deep and no further: a hostile depth costs nothing', async () => {
    // Written out, as a sender would: JSON.stringify itself cannot go this deep.
    const deep = `${'{"d":'.repeat(20_000)}{"bottom":true}${'}'.repeat(20_000)}`;
    const traits = `{"email":"nested@example.com","geo":{"a":{"b":{"c":1,"d":{"e":2}}}},"deep":${deep},"tags":["x"],"none":null}`;
    const res = await fetch(`${base}/api/v1/segment/identify`, {
      method: 'POST',
      headers: { authorization: basic(key), 'content-type': 'application/json' },
      body: `{"userId":"nested-1","traits":${traits}}`,
    });
    expect(res.status).to.equal(201);
    expect((await lead('nested-1'))!.attributes).to.deep.equal({ 'geo.a.b.c': 1 });
  });

  it('refuses with 422 a track of an unknown person without an address, keeping the others', async () => {
    const res = await post('batch', {
      batch: [
        { type: 'track', userId: 'nobody-known', event: 'Item Purchased', messageId: 'u-1' },
        { type: 'track', userId: '019mr8mf4r', event: 'Item Viewed', messageId: 'u-2' },
      ],
    });
    expect(res.status).to.equal(422);
    expect(res.body.details).to.deep.equal(["[0] unknown lead 'nobody-known', and the event carries no email or phone to create it"]);
    expect(res.body).to.include({ recorded: 1 });
  });
});

describe('validate and Segment event names', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segment-names-'));
    fs.mkdirSync(path.join(dir, 'campaigns'));
    fs.cpSync(path.resolve('templates'), path.join(dir, 'templates'), { recursive: true });
    const campaign = (id: string, event: string) =>
      `id: ${id}\nname: ${id}\nkind: event\npurpose: marketing\ntrigger: { event: ${event} }\nsteps:\n  - id: hi\n    channel: email\n    template: welcome\n`;
    fs.writeFileSync(path.join(dir, 'campaigns', 'as-segment.yaml'), campaign('as-segment', '"Item Purchased"'));
    fs.writeFileSync(path.join(dir, 'campaigns', 'numeric.yaml'), campaign('numeric', '"404"'));
    fs.writeFileSync(path.join(dir, 'campaigns', 'ours.yaml'), campaign('ours', 'item_purchased'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a trigger written as Segment names it is an error that names the form it arrives in', () => {
    const set = loadCampaignSet({ campaignsDir: path.join(dir, 'campaigns'), templatesDir: path.join(dir, 'templates') });
    expect(set.problems.map((p) => formatProblem(p, dir))).to.deep.equal([
      "campaigns/as-segment.yaml:5:19 'Item Purchased' can never arrive: event names are lowercase (letters, digits, _ . -); " +
        "a Segment event 'Item Purchased' arrives as 'item_purchased'",
      "campaigns/numeric.yaml:5:19 '404' can never arrive: event names are lowercase (letters, digits, _ . -)",
    ]);
    expect([...set.campaigns.keys()]).to.deep.equal(['ours']);
  });
});
