import { expect } from 'chai';
import { apiKeyFor } from '../helpers/keys.ts';
import { expectResponsive, underAttack } from '../helpers/pressure.ts';
import { seedLeads } from '../helpers/seed.ts';
import { rawRequest, testApp, type TestApp } from '../helpers/web.ts';

/**
 * Issue 11, item 8: the API key is checked before a body is read, and each route reads only as
 * much body as it needs. The attack: a dozen strangers post 4.8 MB of deeply nested JSON at once.
 */
describe('security: API bodies are read after the key, within per-route limits (issue 11, item 8)', function () {
  this.timeout(60_000);
  let t: TestApp;
  let keys: { marketer: string; compliance: string; admin: string };

  before(async () => {
    t = await testApp();
    keys = {
      marketer: await apiKeyFor(t.database, 'marketer'),
      compliance: await apiKeyFor(t.database, 'compliance'),
      admin: await apiKeyFor(t.database, 'admin'),
    };
    await seedLeads(t.database, [{ id: 'b-1', email: 'b1@example.com', first: 'Bo', locale: null, orders: 1, consent: [] }]);
  });
  after(async () => {
    await t.close();
  });

  const post = (path: string, body: Buffer | string, key?: string) =>
    rawRequest(`${t.base}/api/v1${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body,
    }).then(({ status, text }) => ({ status, body: JSON.parse(text) as { error: string; recorded?: number } }));

  /** 4.8 MB of arrays nested 2.4 million deep, prepared once so the client does no work per request. */
  const nested = Buffer.from('['.repeat(2_400_000) + ']'.repeat(2_400_000));

  it('answers twelve unauthenticated 4.8 MB nested bodies with 401 without parsing them; /healthz stays responsive', async () => {
    const attack = await underAttack(t.base, () => Promise.all(Array.from({ length: 12 }, () => post('/events', nested))));
    expect(attack.result.map((r) => r.status)).to.deep.equal(Array(12).fill(401));
    // Before: each body was parsed first; /healthz stalled for seconds and the process grew by 500 MB.
    expectResponsive(attack);
    expect(attack.rssGrowthMb, 'RSS growth (MB)').to.be.below(100);
  });

  it('checks the role before the body too: a compliance key posting events gets 403, unread', async () => {
    const attack = await underAttack(t.base, () => Promise.all(Array.from({ length: 12 }, () => post('/events', nested, keys.compliance))));
    expect(attack.result.map((r) => r.status)).to.deep.equal(Array(12).fill(403));
    expectResponsive(attack);
  });

  it('reads only what a route needs: a few kB for most, megabytes for batches', async () => {
    const padded = JSON.stringify({ occurrence: 'x'.repeat(20_000) });
    const run = await post('/campaigns/spring/runs', padded, keys.marketer);
    expect(run.status).to.equal(413);
    expect(run.body.error).to.equal('invalid_input');
    expect((await post('/inbound/1/close', JSON.stringify({ resolution: 'x'.repeat(20_000) }), keys.admin)).status).to.equal(413);

    const batch = Array.from({ length: 1000 }, (_, i) => ({
      id: `big-${i}`,
      lead: 'b-1',
      event: 'visited',
      properties: { page: `/products/${'p'.repeat(200)}/${i}` },
    }));
    const body = JSON.stringify(batch);
    expect(body.length).to.be.above(200_000);
    const events = await post('/events', body, keys.marketer);
    expect(events.status).to.equal(201);
    expect(events.body.recorded).to.equal(1000);
  });
});
