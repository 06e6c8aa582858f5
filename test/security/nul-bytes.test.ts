import { expect } from 'chai';
import { apiKeyFor } from '../helpers/keys.ts';
import { seedLeads } from '../helpers/seed.ts';
import { rawRequest, testApp, type TestApp } from '../helpers/web.ts';

/**
 * Issue 11, item 10: PostgreSQL refuses NUL in text and jsonb, so a NUL that reached it failed the
 * request with 500, and a whole batch with it. NUL is refused at the edge: 400 for a request, 422
 * for that one event of a batch, whose other events are kept.
 */
describe('security: NUL characters are refused at the edge (issue 11, item 10)', function () {
  this.timeout(60_000);
  let t: TestApp;
  let key: string;

  before(async () => {
    t = await testApp();
    key = await apiKeyFor(t.database, 'admin');
    await seedLeads(t.database, [{ id: 'n-1', email: 'n1@example.com', first: 'Nel', locale: null, orders: 1, consent: [] }]);
  });
  after(async () => {
    await t.close();
  });

  const api = async (route: string, body?: unknown) => {
    const res = await rawRequest(`${t.base}/api/v1${route}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: JSON.parse(res.text) as Record<string, unknown> & { error: string; details: string[] } };
  };

  it('answers 400 for a NUL in any path parameter or query value (before: 500 on eight GET routes)', async () => {
    const routes = [
      '/leads/n%00-1',
      '/leads/n%00-1/timeline',
      '/campaigns/spr%00ing/plan',
      '/campaigns/spring/report?occurrence=a%00b',
      '/messages?campaign=spr%00ing',
      '/inbound?queue=a%00b',
      '/inbound?lead=n%00-1',
      '/consents/check?lead=n%00-1&channel=email&purpose=marketing',
      '/consents/proof?lead=n%00-1',
    ];
    for (const route of routes) {
      const res = await api(route);
      expect(res.status, route).to.equal(400);
      expect(res.body.error, route).to.equal('invalid_input');
      expect(res.body.details, route).to.deep.equal(['"the URL" holds a NUL character (\\u0000), which no field accepts']);
    }
    // Pages and links have the same rule.
    expect((await rawRequest(`${t.base}/unsubscribe/abc%00def`)).status).to.equal(400);
  });

  it('answers 400 for a lead holding a NUL, naming the field (before: 500)', async () => {
    const id = await api('/leads', { external_id: 'x\u0000y', email: 'x@example.com' });
    expect(id.status).to.equal(400);
    expect(id.body.details).to.deep.equal(['"external_id" holds a NUL character (\\u0000), which no field accepts']);
    const attribute = await api('/leads', [{ external_id: 'n-2', email: 'n2@example.com', attributes: { note: 'a\u0000b' } }]);
    expect(attribute.status).to.equal(400);
    expect(attribute.body.details).to.deep.equal(['"[0].attributes.note" holds a NUL character (\\u0000), which no field accepts']);
    expect((await api('/leads/n-2')).status).to.equal(404);
  });

  it('refuses only the event holding a NUL in a batch of 1,000 (422), and records the other 999 (before: 500 for all)', async () => {
    const batch = Array.from({ length: 1000 }, (_, i) => ({
      id: `nul-${i}`,
      lead: 'n-1',
      event: 'visited',
      properties: i === 500 ? { note: 'a\u0000b' } : { page: `/p/${i}` },
    }));
    const res = await api('/events', batch);
    expect(res.status).to.equal(422);
    expect(res.body.recorded).to.equal(999);
    expect(res.body.rejected).to.deep.equal([
      { index: 500, reason: '"properties.note" holds a NUL character (\\u0000), which no field accepts' },
    ]);
    expect(res.body.details).to.deep.equal(['[500] "properties.note" holds a NUL character (\\u0000), which no field accepts']);
    // A key holding a NUL is caught as well; one event alone is a request of its own: 400.
    const single = await api('/events', { lead: 'n-1', event: 'visited', properties: { 'no\u0000te': 1 } });
    expect(single.status).to.equal(400);
    expect(single.body.details).to.deep.equal(['"properties.no\\u0000te" holds a NUL character (\\u0000), which no field accepts']);
  });

  it('answers 400 for a NUL in a form of the web UI', async () => {
    const res = await rawRequest(`${t.base}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'email=ann%00%40example.com&password=x&_csrf=x',
    });
    expect(res.status).to.equal(400);
  });
});
