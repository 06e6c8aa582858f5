import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import path from 'node:path';
import { expect } from 'chai';
import { createApiKey } from '../../src/access/keys.ts';
import { createApp } from '../../src/http/app.ts';
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
});
