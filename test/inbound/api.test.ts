import path from 'node:path';
import { expect } from 'chai';
import twilio from 'twilio';
import { createApiKey } from '../../src/access/keys.ts';
import { saveUser } from '../../src/access/users.ts';
import { startWeb, type TestWeb } from '../helpers/web.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { seedLeads } from '../helpers/seed.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const FIXTURE = path.resolve('test/fixtures/inbound');
const SECRET = 'inbound-webhook-secret-0123456789';
const TOKEN = 'f'.repeat(32);

function mime(headers: Record<string, string>, body: string): string {
  return [
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    body,
    '',
  ].join('\r\n');
}

describe('inbound contacts over HTTP', function () {
  this.timeout(30_000);
  let t: TestEngine;
  let sink: SmtpSink;
  let web: TestWeb;
  let base: string;
  const keys: Record<string, string> = {};

  beforeEach(async () => {
    sink = await startSmtpSink();
    web = await startWeb();
    base = web.base;
    t = await testEngine({
      CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'),
      TEMPLATES_DIR: path.join(FIXTURE, 'templates'),
      SMTP_URL: sink.url,
      PUBLIC_URL: base,
      INBOUND_WEBHOOK_SECRET: SECRET,
      INBOUND_MAX_BYTES: '20000',
      TWILIO_ACCOUNT_SID: `AC${'a'.repeat(32)}`,
      TWILIO_AUTH_TOKEN: TOKEN,
      TWILIO_FROM: '+15005550006',
    });
    web.serve(t.engine);
    await saveUser(t.database.pool, { email: 'ann@example.com', role: 'service', password: 'correct horse battery', languages: ['en'] });
    await saveUser(t.database.pool, { email: 'bob@example.com', role: 'service', password: 'correct horse battery', languages: ['en'] });
    // The service key acts for ann, who serves both queues; bob serves retention only.
    for (const role of ['admin', 'marketer', 'service', 'compliance'] as const)
      keys[role] = (await createApiKey(t.database.pool, role, role, role === 'service' ? 'ann@example.com' : undefined)).key;
    keys.bob = (await createApiKey(t.database.pool, 'service', 'bob', 'bob@example.com')).key;
    await seedLeads(t.database, [
      {
        id: 'carol',
        email: 'carol@example.com',
        phone: '+4915112345678',
        first: 'Carol',
        locale: null,
        orders: 1,
        consent: ['grant', 'confirm'],
        sms: ['grant'],
      },
    ]);
    await t.engine.startDispatcher();
  });
  afterEach(async () => {
    await web.close();
    await t.close();
    await sink.close();
  });

  function call(method: string, p: string, options: { key?: string; body?: unknown } = {}) {
    return fetch(base + p, {
      method,
      headers: { ...(options.key ? { authorization: `Bearer ${options.key}` } : {}), 'content-type': 'application/json' },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  }

  const postMime = (raw: string, secret: string | null = SECRET) =>
    fetch(`${base}/webhooks/email/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'message/rfc822', ...(secret ? { authorization: `Bearer ${secret}` } : {}) },
      body: raw,
    });

  const carolMail = mime(
    { From: 'carol@example.com', To: 'hello@127.0.0.1', Subject: 'Parcel', 'Message-ID': '<parcel-1@example.com>' },
    'Where is my parcel?',
  );

  it('takes raw MIME from a provider with the shared secret, once per Message-ID, within the size limit', async () => {
    expect((await postMime(carolMail, null)).status).to.equal(403);
    expect((await postMime(carolMail, 'wrong-secret-wrong-secret-wrong')).status).to.equal(403);
    const first = await postMime(carolMail);
    expect(first.status).to.equal(201);
    const { contact } = (await first.json()) as { contact: number };
    const again = await postMime(carolMail);
    expect(again.status).to.equal(200);
    expect(await again.json()).to.include({ contact, duplicate: true });
    const big = await postMime(mime({ From: 'carol@example.com', Subject: 'big' }, 'x'.repeat(30_000)));
    expect(big.status).to.equal(413);
    const { rows } = await t.database.pool.query(`SELECT count(*)::int AS n FROM inbound_contacts`);
    expect(rows[0].n).to.equal(1);
  });

  it('lists contacts with their fields, and works them: accept, reply, reassign, close', async () => {
    const { contact: id } = (await (await postMime(carolMail)).json()) as { contact: number };
    const list = await call('GET', '/api/v1/inbound?status=assigned&queue=general&lead=carol', { key: keys.service });
    expect(list.status).to.equal(200);
    const { contacts } = (await list.json()) as { contacts: Record<string, unknown>[] };
    expect(contacts).to.have.length(1);
    expect(contacts[0]).to.include({
      id,
      lead: 'carol',
      campaign: null,
      step: null,
      channel: 'email',
      category: 'other',
      queue: 'general',
      status: 'assigned',
      assignee: 'ann@example.com',
      text: 'Where is my parcel?',
    });
    expect(contacts[0]).to.have.property('due_at').that.is.a('string');
    expect(contacts[0]).to.have.property('received_at').that.is.a('string');

    expect((await call('POST', `/api/v1/inbound/${id}/accept`, { key: keys.service, body: {} })).status).to.equal(200);
    const reply = await call('POST', `/api/v1/inbound/${id}/reply`, {
      key: keys.service,
      body: { text: 'It ships today.', user: 'ann@example.com' },
    });
    expect(reply.status).to.equal(202);
    await sink.waitFor(1);
    expect(sink.messages[0]!.subject).to.equal('Re: Parcel');
    expect(sink.messages[0]!.inReplyTo).to.equal('<parcel-1@example.com>');

    const moved = await call('POST', `/api/v1/inbound/${id}/assign`, { key: keys.admin, body: { user: 'bob@example.com' } });
    expect((await moved.json()) as { assignee: string; status: string }).to.include({ assignee: 'bob@example.com', status: 'assigned' });
    const closed = await call('POST', `/api/v1/inbound/${id}/close`, { key: keys.service, body: { resolution: 'answered' } });
    expect((await closed.json()) as { status: string; resolution: string }).to.include({ status: 'closed', resolution: 'answered' });
    const twice = await call('POST', `/api/v1/inbound/${id}/close`, { key: keys.service, body: { resolution: 'again' } });
    expect(twice.status).to.equal(409);
    expect((await call('GET', '/api/v1/inbound/999999', { key: keys.service })).status).to.equal(404);
  });

  it('keeps reply bodies from marketers and inbox actions from read-only roles', async () => {
    const { contact: id } = (await (await postMime(carolMail)).json()) as { contact: number };
    expect((await call('GET', '/api/v1/inbound', { key: keys.marketer })).status).to.equal(403);
    expect((await call('GET', `/api/v1/inbound/${id}`, { key: keys.marketer })).status).to.equal(403);
    expect((await call('GET', '/api/v1/inbound', { key: keys.compliance })).status).to.equal(200);
    for (const role of ['marketer', 'compliance']) {
      for (const action of ['accept', 'reply', 'assign', 'close']) {
        const res = await call('POST', `/api/v1/inbound/${id}/${action}`, {
          key: keys[role],
          body: { text: 'x', resolution: 'x', user: 'ann@example.com' },
        });
        expect(res.status, `${role} ${action}`).to.equal(403);
      }
    }
    expect((await call('GET', '/api/v1/inbound')).status).to.equal(401);
  });

  it('turns a text that is no keyword into a contact matched by number, and answers it by SMS', async () => {
    const url = `${base}/webhooks/twilio/sms`;
    const params = { MessageSid: `SM${'1'.repeat(32)}`, From: '+4915112345678', To: '+15005550006', Body: 'Can I change my delivery day?' };
    const send = () =>
      fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': twilio.getExpectedTwilioSignature(TOKEN, url, params),
        },
        body: new URLSearchParams(params).toString(),
      });
    expect((await send()).status).to.equal(200);
    expect((await send()).status).to.equal(200);
    const { contacts } = (await (await call('GET', '/api/v1/inbound', { key: keys.service })).json()) as {
      contacts: Record<string, unknown>[];
    };
    expect(contacts).to.have.length(1);
    expect(contacts[0]).to.include({ lead: 'carol', channel: 'sms', identified_by: 'number', text: 'Can I change my delivery day?' });
    const reply = await call('POST', `/api/v1/inbound/${contacts[0]!.id}/reply`, {
      key: keys.service,
      body: { text: 'Yes: reply with a day.', user: 'ann@example.com' },
    });
    expect(reply.status).to.equal(202);
    // By default on the channel they wrote on; on request on the other one, to the lead's address there.
    const byEmail = await call('POST', `/api/v1/inbound/${contacts[0]!.id}/reply`, {
      key: keys.service,
      body: { text: 'Details by email.', channel: 'email' },
    });
    expect(byEmail.status).to.equal(202);
    const { rows } = await t.database.pool.query(`SELECT channel, to_address, body_text, purpose FROM messages ORDER BY id`);
    expect(rows).to.deep.equal([
      { channel: 'sms', to_address: '+4915112345678', body_text: 'Yes: reply with a day.', purpose: 'service-reply' },
      { channel: 'email', to_address: 'carol@example.com', body_text: 'Details by email.', purpose: 'service-reply' },
    ]);
  });

  it('lets a service key reach only its person’s queues and contacts; a service key must name its person', async () => {
    const { contact: id } = (await (await postMime(carolMail)).json()) as { contact: number };
    // carol's contact is in the general queue, which bob does not serve.
    const list = (await (await call('GET', '/api/v1/inbound', { key: keys.bob })).json()) as { contacts: unknown[] };
    expect(list.contacts).to.deep.equal([]);
    expect((await call('GET', `/api/v1/inbound/${id}`, { key: keys.bob })).status).to.equal(404);
    expect((await call('POST', `/api/v1/inbound/${id}/close`, { key: keys.bob, body: { resolution: 'x' } })).status).to.equal(404);
    // Once it is handed to bob, it is his to see.
    await call('POST', `/api/v1/inbound/${id}/assign`, { key: keys.admin, body: { user: 'bob@example.com' } });
    expect((await call('GET', `/api/v1/inbound/${id}`, { key: keys.bob })).status).to.equal(200);
    const accepted = await call('POST', `/api/v1/inbound/${id}/accept`, { key: keys.bob, body: {} });
    expect((await accepted.json()) as { assignee: string }).to.include({ assignee: 'bob@example.com' });
    const err = await createApiKey(t.database.pool, 'service', 'nobody').catch((e: Error) => e);
    expect((err as Error).message).to.contain('--user');
  });
});
