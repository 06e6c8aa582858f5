import { expect } from 'chai';
import { createApiKey } from '../../src/access/keys.ts';
import { testApp, type TestApp } from '../helpers/web.ts';

const LIMIT = 2;
const REQUESTS = 40;
const PER_REQUEST = 100;

describe('event intake past its limit (EVENTS_MAX_IN_FLIGHT)', function () {
  this.timeout(120_000);
  let t: TestApp;
  let key: string;
  let base: string;

  before(async () => {
    t = await testApp({ EVENTS_MAX_IN_FLIGHT: String(LIMIT) });
    key = (await createApiKey(t.database.pool, 'marketer', 'intake')).key;
    base = t.base;
  });
  after(async () => {
    await t.close();
  });

  /** Request `r`'s events: new leads (they carry an email), each event with its own id. */
  const eventsOf = (r: number) =>
    Array.from({ length: PER_REQUEST }, (_, i) => ({
      id: `burst-${r}-${i}`,
      lead: `burst-${r}-${i}`,
      email: `burst-${r}-${i}@example.com`,
      event: 'visited',
      properties: { request: r },
    }));
  const post = (route: string, body: unknown) =>
    fetch(`${base}${route}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const recordedKeys = async () =>
    (await t.database.pool.query<{ event_key: string }>(`SELECT event_key FROM events WHERE event_key LIKE 'burst-%'`)).rows.map(
      (r) => r.event_key,
    );

  it('answers 429 with Retry-After past the limit, records every accepted event exactly once, and nothing of a refused request', async () => {
    const answers = await Promise.all(
      Array.from({ length: REQUESTS }, async (_, r) => {
        const res = await post('/api/v1/events', eventsOf(r));
        return { r, status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> };
      }),
    );
    const accepted = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status === 429);
    expect(accepted.length + refused.length, JSON.stringify(answers.filter((a) => ![201, 429].includes(a.status)))).to.equal(REQUESTS);
    expect(refused.length, 'some requests were over the limit').to.be.greaterThan(0);
    for (const a of refused) {
      expect(a.retryAfter).to.equal('1');
      expect(a.body).to.include({ error: 'overloaded' });
    }
    for (const a of accepted) expect(a.body).to.include({ recorded: PER_REQUEST, duplicates: 0 });

    // Exactly the accepted requests' events are recorded, each once.
    const keys = await recordedKeys();
    const expected = accepted.flatMap((a) => eventsOf(a.r).map((e) => e.id));
    expect(keys.length).to.equal(expected.length);
    expect(new Set(keys)).to.deep.equal(new Set(expected));

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).to.match(/^touchpoint_event_intake_in_flight 0$/m);
    expect(metrics).to.match(/^touchpoint_event_intake_lag_seconds 0$/m);
    const refusedTotal = Number(/^touchpoint_event_intake_refused_total (\d+)$/m.exec(metrics)?.[1]);
    expect(refusedTotal).to.be.at.least(refused.length);

    // A sender that retries as told, one request at a time, gets the rest in: nothing lost, nothing doubled.
    await new Promise((r) => setTimeout(r, 1000 * Number(refused[0]!.retryAfter)));
    for (const { r } of refused) expect((await post('/api/v1/events', eventsOf(r))).status).to.equal(201);
    const all = await recordedKeys();
    expect(all.length).to.equal(REQUESTS * PER_REQUEST);
    expect(new Set(all).size).to.equal(REQUESTS * PER_REQUEST);
  });

  it('guards the Segment routes with the same gate', async () => {
    const answers = await Promise.all(
      Array.from({ length: REQUESTS }, async (_, r) => {
        const batch = eventsOf(r).map((e) => ({
          type: 'track',
          userId: `seg-${e.lead}`,
          event: 'Page Visited',
          messageId: `seg-${e.id}`,
          context: { traits: { email: `seg-${e.email}` } },
        }));
        const res = await post('/api/v1/segment/batch', { batch });
        await res.arrayBuffer();
        return { status: res.status, retryAfter: res.headers.get('retry-after') };
      }),
    );
    expect(answers.every((a) => a.status === 201 || (a.status === 429 && a.retryAfter === '1'))).to.equal(true);
    expect(answers.some((a) => a.status === 429)).to.equal(true);
    const accepted = answers.filter((a) => a.status === 201).length;
    const { rows } = await t.database.pool.query(`SELECT count(*)::int AS n FROM events WHERE event_key LIKE 'seg-burst-%'`);
    expect(rows[0].n).to.equal(accepted * PER_REQUEST);
  });
});
