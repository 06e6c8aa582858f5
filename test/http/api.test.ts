import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { expect } from 'chai';
import { createApp } from '../../src/http/app.ts';
import { apiKeyFor } from '../helpers/keys.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { seedLeads } from '../helpers/seed.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

describe('HTTP API', () => {
  let t: TestEngine;
  let sink: SmtpSink;
  let server: Server;
  let base: string;
  const keys: Record<string, string> = {};

  before(async () => {
    sink = await startSmtpSink();
    t = await testEngine({ SMTP_URL: sink.url });
    for (const role of ['admin', 'marketer', 'service', 'compliance'] as const) keys[role] = await apiKeyFor(t.database, role);
    server = createApp(t.engine).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    await t.close();
    await sink.close();
  });

  function call(method: string, path: string, options: { key?: string; body?: unknown } = {}) {
    return fetch(base + path, {
      method,
      headers: { ...(options.key ? { authorization: `Bearer ${options.key}` } : {}), 'content-type': 'application/json' },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  }

  it('refuses every /api/v1 route without a valid key', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/campaigns'],
      ['GET', '/api/v1/campaigns/spring/plan'],
      ['POST', '/api/v1/campaigns/spring/runs'],
      ['GET', '/api/v1/campaigns/spring/report'],
      ['POST', '/api/v1/leads'],
      ['GET', '/api/v1/leads/x'],
      ['GET', '/api/v1/messages'],
    ]) {
      expect((await call(method!, path!)).status, `${method} ${path}`).to.equal(401);
      expect((await call(method!, path!, { key: 'tp_forged_key' })).status, `${method} ${path} forged`).to.equal(401);
    }
  });

  it('lets only admin and marketer keys write', async () => {
    const lead = { external_id: 'api-1', email: 'api-1@example.com', tags: ['customer'] };
    for (const role of ['service', 'compliance']) {
      const res = await call('POST', '/api/v1/leads', { key: keys[role], body: lead });
      expect(res.status, role).to.equal(403);
      expect((await call('POST', '/api/v1/campaigns/spring/runs', { key: keys[role], body: {} })).status).to.equal(403);
    }
    const created = await call('POST', '/api/v1/leads', { key: keys.marketer, body: lead });
    expect(created.status).to.equal(201);
    expect(await created.json()).to.include({ external_id: 'api-1', created: true });
    const updated = await call('POST', '/api/v1/leads', { key: keys.admin, body: { ...lead, first_name: 'Ada' } });
    expect(updated.status).to.equal(200);
    const read = await call('GET', '/api/v1/leads/api-1', { key: keys.compliance });
    expect(await read.json()).to.include({ external_id: 'api-1', first_name: 'Ada' });
  });

  it('answers bad input with 400 and the reasons, writing nothing', async () => {
    const res = await call('POST', '/api/v1/leads', {
      key: keys.marketer,
      body: [
        { external_id: 'ok-1', email: 'ok@example.com' },
        { external_id: 'bad', email: 'nope' },
      ],
    });
    expect(res.status).to.equal(400);
    expect((await res.json()).details).to.deep.equal(["[1] email 'nope' is not a valid address"]);
    expect((await call('GET', '/api/v1/leads/ok-1', { key: keys.marketer })).status).to.equal(404);
    const malformed = await fetch(base + '/api/v1/leads', {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.marketer}`, 'content-type': 'application/json' },
      body: '{"external_id": ',
    });
    expect(malformed.status).to.equal(400);
  });

  it('plans, runs and reports a campaign', async () => {
    await seedLeads(t.database, [
      { id: 'p-1', email: 'p1@example.com', first: 'Pia', locale: null, orders: 1, consent: ['grant', 'confirm'] },
      { id: 'p-2', email: 'p2@example.com', first: 'Per', locale: null, orders: 1, consent: ['grant'] },
    ]);
    const plan = await (await call('GET', '/api/v1/campaigns/spring/plan', { key: keys.service })).json();
    expect(plan.recipients.map((r: { lead: string }) => r.lead)).to.deep.equal(['p-1']);
    expect(plan.suppressed).to.deep.include({ lead: 'p-2', step: 'offer', reason: 'unconfirmed' });

    const run = await call('POST', '/api/v1/campaigns/spring/runs', { key: keys.marketer, body: { occurrence: 'api-test' } });
    expect(run.status).to.equal(201);
    expect((await run.json()).counts).to.include({ queued: 1 });
    const report = await (await call('GET', '/api/v1/campaigns/spring/report?occurrence=api-test', { key: keys.marketer })).json();
    expect(report.occurrences).to.deep.equal([{ occurrence: 'api-test', recorded: 3, sent: 0, delivered: 0, failed: 0, suppressed: 2 }]);
    expect((await call('GET', '/api/v1/campaigns/nope/plan', { key: keys.marketer })).status).to.equal(404);
  });

  it('serves health and metrics', async () => {
    expect(await (await call('GET', '/healthz')).json()).to.deep.equal({ ok: true });
    const metrics = await (await call('GET', '/metrics')).text();
    expect(metrics).to.match(/^touchpoint_outbox_messages\{state="due"\} \d+$/m);
  });
});
