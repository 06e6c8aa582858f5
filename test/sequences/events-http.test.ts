import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import path from 'node:path';
import { expect } from 'chai';
import { createApiKey } from '../../src/access/keys.ts';
import { createApp } from '../../src/http/app.ts';
import { processRegistry } from '../../src/metrics.ts';
import { testEngine, until, type TestEngine } from '../helpers/engine.ts';
import { seedLeads, type SeedLead } from '../helpers/seed.ts';
import { recipient, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const LEADS = 1000;

describe('events over HTTP to SMTP', function () {
  this.timeout(120_000);
  let t: TestEngine;
  let sink: SmtpSink;
  let server: Server;
  let key: string;
  let base: string;

  before(async () => {
    sink = await startSmtpSink();
    t = await testEngine({ SMTP_URL: sink.url, CAMPAIGNS_DIR: path.resolve('test/fixtures/events-http/campaigns') });
    // Every tenth lead never consented: eligible are the other 900.
    const leads: SeedLead[] = Array.from({ length: LEADS }, (_, i) => ({
      id: `ev-${i}`,
      email: `ev-${i}@example.com`,
      first: `E${i}`,
      locale: null,
      orders: 1,
      consent: i % 10 === 0 ? [] : ['grant', 'confirm'],
    }));
    await seedLeads(t.database, leads);
    key = (await createApiKey(t.database.pool, 'marketer', 'events')).key;
    server = createApp(t.engine).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await t.engine.startDispatcher();
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    await t.close();
    await sink.close();
  });

  const batch = Array.from({ length: LEADS }, (_, i) => ({
    id: `signup-${i}`,
    lead: `ev-${i}`,
    event: 'signed_up',
    properties: { source: 'web' },
  }));

  async function post(events: unknown) {
    const res = await fetch(`${base}/api/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(events),
    });
    return { status: res.status, body: await res.json() };
  }

  it('sends exactly one first-step message per eligible lead, and nothing for a repeated batch', async () => {
    const first = await post(batch);
    expect(first.status).to.equal(201);
    expect(first.body).to.include({ recorded: LEADS, duplicates: 0, enrolled: LEADS, queued: 900 });
    await sink.waitFor(900, 60_000);

    const again = await post(batch);
    expect(again.status).to.equal(200);
    expect(again.body).to.include({ recorded: 0, duplicates: LEADS, enrolled: 0, queued: 0 });

    await until(async () => {
      const { rows } = await t.database.pool.query(`SELECT count(*)::int AS n FROM messages WHERE status IN ('queued', 'sending')`);
      return rows[0].n === 0 ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 300));
    const recipients = sink.messages.map(recipient);
    expect(recipients).to.have.length(900);
    expect(new Set(recipients).size).to.equal(900);
    expect(recipients.filter((r) => /^ev-\d*0@/.test(r))).to.deep.equal([]);
  });

  it('answers 422 for events of unknown leads without contact data, keeping the good ones', async () => {
    const res = await post([
      { id: 'x-1', lead: 'nobody', event: 'signed_up' },
      { id: 'x-2', lead: 'somebody-new', event: 'signed_up', email: 'new@example.com' },
    ]);
    expect(res.status).to.equal(422);
    expect(res.body.details).to.deep.equal(["[0] unknown lead 'nobody', and the event carries no email or phone to create it"]);
    expect(res.body).to.include({ recorded: 1, enrolled: 1 });
    const bad = await post({ lead: 'x', event: 'Bad Name' });
    expect(bad.status).to.equal(400);
  });

  /** Requests taken in beyond one per transaction so far: more than before once some went in together. */
  async function requestsBeyondOnePerGroup(): Promise<number> {
    const value = async (name: string) => (await processRegistry.getSingleMetric(name)!.get()).values[0]?.value ?? 0;
    return (await value('touchpoint_event_intake_grouped_requests_total')) - (await value('touchpoint_event_intake_groups_total'));
  }

  it('takes in requests that arrive together in one go, answering each its own share', async () => {
    const before = await requestsBeyondOnePerGroup();
    // Leads 1000 on are new; their consent is recorded first so their sign-up message is queued.
    const fresh: SeedLead[] = Array.from({ length: 60 }, (_, i) => ({
      id: `burst-${i}`,
      email: `burst-${i}@example.com`,
      first: 'B',
      locale: null,
      orders: 1,
      consent: i % 6 === 5 ? [] : ['grant', 'confirm'],
    }));
    await seedLeads(t.database, fresh);
    const requests = fresh.map((l, i) => ({ id: `burst-signup-${i}`, lead: l.id, event: 'signed_up' }));
    // Every tenth request repeats the event id of the one before it, and three name nobody we know.
    const repeats = requests
      .filter((_, i) => i % 10 === 1)
      .map((r, k) => ({ ...r, lead: requests[k * 10]!.lead, id: requests[k * 10]!.id }));
    const strangers = [0, 1, 2].map((i) => ({ id: `burst-stranger-${i}`, lead: `stranger-${i}`, event: 'signed_up' }));
    const answers = await Promise.all([...requests, ...repeats, ...strangers].map((e) => post(e)));

    expect(await requestsBeyondOnePerGroup(), 'some requests were taken in together').to.be.greaterThan(before);
    for (const [i, a] of answers.slice(0, 60).entries()) {
      const repeated = i % 10 === 0;
      const consenting = i % 6 !== 5;
      if (repeated) {
        // The first and its repeat: one of them recorded it, the other was told it is a duplicate.
        const twin = answers[60 + i / 10]!;
        expect([a.body.recorded, twin.body.recorded].sort()).to.deep.equal([0, 1]);
        expect(a.body.duplicates + twin.body.duplicates).to.equal(1);
        expect(a.body.queued + twin.body.queued).to.equal(consenting ? 1 : 0);
        continue;
      }
      expect(a.status).to.equal(201);
      expect(a.body).to.deep.include({
        recorded: 1,
        duplicates: 0,
        enrolled: 1,
        queued: consenting ? 1 : 0,
        suppressed: consenting ? 0 : 1,
      });
      expect(a.body.rejected).to.deep.equal([]);
    }
    for (const a of answers.slice(66)) {
      expect(a.status).to.equal(422);
      expect(a.body.rejected).to.have.length(1);
      expect(a.body.rejected[0].index).to.equal(0);
    }
    const { rows } = await t.database.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM messages m JOIN leads l ON l.id = m.lead_id WHERE l.external_id LIKE 'burst-%' AND m.status <> 'suppressed'`,
    );
    expect(rows[0]!.n).to.equal(50);
  });

  it('answers a request whose events the database refuses with its own error, and takes in those that came with it', async () => {
    // Past the HTTP edge (which refuses a NUL with 400): PostgreSQL refuses it in jsonb, failing the group it is in.
    const poison = { id: 'poison-1', lead: 'ev-1', event: 'visited', properties: { note: 'a\u0000b' } };
    const before = await requestsBeyondOnePerGroup();
    const others = Array.from({ length: 8 }, (_, i) => ({
      id: `beside-poison-${i}`,
      lead: `ev-${i + 2}`,
      event: 'visited',
      properties: {},
    }));
    const results = await Promise.allSettled([
      ...others.slice(0, 4).map((e) => t.engine.ingestEvents([e])),
      t.engine.ingestEvents([poison]),
      ...others.slice(4).map((e) => t.engine.ingestEvents([e])),
    ]);
    expect(await requestsBeyondOnePerGroup(), 'the poison was taken in with others').to.be.greaterThan(before);
    expect(results[4]!.status).to.equal('rejected');
    for (const r of [...results.slice(0, 4), ...results.slice(5)]) {
      expect(r.status).to.equal('fulfilled');
      expect((r as PromiseFulfilledResult<{ recorded: number }>).value.recorded).to.equal(1);
    }
    const { rows } = await t.database.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events WHERE event_key LIKE 'beside-poison-%'`,
    );
    expect(rows[0]!.n).to.equal(8);
  });
});
