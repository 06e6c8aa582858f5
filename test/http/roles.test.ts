import path from 'node:path';
import { expect } from 'chai';
import { createApiKey } from '../../src/access/keys.ts';
import type { Role } from '../../src/access/schema.ts';
import { saveUser } from '../../src/access/users.ts';
import { parseInboundEmail } from '../../src/inbound/email.ts';
import { logIn, startWeb, type TestWeb, type WebSession } from '../helpers/web.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { seedLeads } from '../helpers/seed.ts';

const FIXTURE = path.resolve('test/fixtures/inbound');
const ROLES: Role[] = ['admin', 'marketer', 'service', 'compliance'];
const PASSWORD = 'correct horse battery';
const ALL = ROLES;

/**
 * The permission matrix, walked route by route: every role gets 403 wherever it does not belong,
 * and something else (2xx, 3xx, or a 4xx about the input) wherever it does.
 */
describe('role matrix', function () {
  this.timeout(60_000);
  let t: TestEngine;
  let web: TestWeb;
  let base: string;
  const keys: Record<string, string> = {};
  const sessions: Record<string, WebSession> = {};
  let contact: number;
  let otherQueueContact: number;

  before(async () => {
    web = await startWeb();
    base = web.base;
    t = await testEngine({
      CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'),
      TEMPLATES_DIR: path.join(FIXTURE, 'templates'),
      PUBLIC_URL: base,
      INBOUND_WEBHOOK_SECRET: 'a-shared-secret-for-inbound-mail',
      TWILIO_ACCOUNT_SID: `AC${'a'.repeat(32)}`,
      TWILIO_AUTH_TOKEN: 'f'.repeat(32),
      TWILIO_FROM: '+15005550006',
    });
    web.serve(t.engine);
    for (const role of ROLES) {
      await saveUser(t.database.pool, { email: `${role}@example.com`, role, password: PASSWORD });
      keys[role] = (await createApiKey(t.database.pool, role, role, role === 'service' ? 'service@example.com' : undefined)).key;
    }
    // bob serves the retention queue only.
    await saveUser(t.database.pool, { email: 'bob@example.com', role: 'service', password: PASSWORD, languages: ['en'] });
    keys.bob = (await createApiKey(t.database.pool, 'service', 'bob', 'bob@example.com')).key;
    await seedLeads(t.database, [{ id: 'x', email: 'x@example.com', first: 'X', locale: null, orders: 1, consent: ['grant', 'confirm'] }]);
    const mail = (from: string, id: string, text: string) =>
      parseInboundEmail(Buffer.from(`From: ${from}\r\nTo: hello@127.0.0.1\r\nSubject: Hi\r\nMessage-ID: <${id}>\r\n\r\n${text}\r\n`));
    contact = (await t.engine.receiveReply(await mail('x@example.com', 'a@x', 'My private reply')))!.contactId!;
    otherQueueContact = (await t.engine.receiveReply(await mail('someone@example.org', 'b@x', 'Unidentified')))!.contactId!;
    await t.database.pool.query(`UPDATE inbound_contacts SET queue = 'retention' WHERE id = $1`, [contact]);
    for (const role of [...ROLES, 'bob'])
      sessions[role] = await logIn(base, role === 'bob' ? 'bob@example.com' : `${role}@example.com`, PASSWORD);
  });
  after(async () => {
    await web.close();
    await t.close();
  });

  const api = (method: string, p: string, role: string, body?: unknown) =>
    fetch(base + p, {
      method,
      headers: { authorization: `Bearer ${keys[role]}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  const apiRoutes: [string, string, Role[], unknown?][] = [
    ['GET', '/api/v1/campaigns', ALL],
    ['GET', '/api/v1/campaigns/followup/plan', ALL],
    ['GET', '/api/v1/campaigns/followup/report', ALL],
    ['POST', '/api/v1/campaigns/followup/runs', ['admin', 'marketer'], { occurrence: 'matrix' }],
    ['POST', '/api/v1/campaigns/followup/retry', ['admin', 'marketer'], {}],
    ['POST', '/api/v1/campaigns/followup/send-test', ['admin', 'marketer'], { step: 'offer', lead: 'x', to: 'marketer@example.com' }],
    ['POST', '/api/v1/leads', ['admin', 'marketer'], { external_id: 'y', email: 'y@example.com' }],
    ['GET', '/api/v1/leads/x', ALL],
    ['GET', '/api/v1/leads/x/timeline', ALL],
    ['GET', '/api/v1/leads/x/export', ['admin', 'compliance']],
    ['POST', '/api/v1/events', ['admin', 'marketer'], { lead: 'x', event: 'visited' }],
    ['POST', '/api/v1/segment/track', ['admin', 'marketer'], { userId: 'x', event: 'Page Visited' }],
    ['POST', '/api/v1/segment/identify', ['admin', 'marketer'], { userId: 'x', traits: { plan: 'pro' } }],
    ['POST', '/api/v1/segment/batch', ['admin', 'marketer'], { batch: [{ type: 'track', userId: 'x', event: 'Page Visited' }] }],
    ['GET', '/api/v1/messages', ALL],
    ['GET', '/api/v1/reports/csat', ALL],
    ['GET', '/api/v1/inbound', ['admin', 'service', 'compliance']],
    ['GET', '/api/v1/inbound/CONTACT', ['admin', 'service', 'compliance']],
    ['POST', '/api/v1/inbound/CONTACT/accept', ['admin', 'service'], { user: 'service@example.com' }],
    ['POST', '/api/v1/inbound/CONTACT/assign', ['admin', 'service'], { queue: 'retention' }],
    ['POST', '/api/v1/inbound/CONTACT/reply', ['admin', 'service'], { text: 'Thanks' }],
    ['POST', '/api/v1/inbound/CONTACT/opt-out', ['admin', 'service'], {}],
    ['POST', '/api/v1/inbound/CONTACT/close', ['admin', 'service'], { resolution: 'done' }],
    ['GET', '/api/v1/inbound?q=private', ['admin', 'service', 'compliance']],
    ['POST', '/api/v1/inbound/CONTACT/notes', ['admin', 'service'], { text: 'A note' }],
    ['GET', '/api/v1/inbound/canned-answers', ['admin', 'service']],
    ['GET', '/api/v1/inbound/CONTACT/canned-answers/thanks', ['admin', 'service']],
    ['GET', '/api/v1/inbound/service-levels', ['admin', 'service']],
    ['POST', '/api/v1/consents', ['admin', 'marketer'], { lead: 'x', channel: 'sms', purpose: 'marketing', action: 'withdraw' }],
    ['GET', '/api/v1/consents/check?lead=x&channel=email&purpose=marketing', ['admin', 'compliance']],
    ['GET', '/api/v1/consents/proof?lead=x', ['admin', 'compliance']],
    ['GET', '/api/v1/consents/export?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z', ['admin', 'compliance']],
  ];

  it('API: every route answers 403 to the roles that do not belong, and never to those that do', async () => {
    const wrong: string[] = [];
    for (const [method, route, allowed, body] of apiRoutes) {
      for (const role of ROLES) {
        const res = await api(method, route.replace('CONTACT', String(contact)), role, body);
        await res.arrayBuffer();
        const ok = allowed.includes(role) ? res.status !== 403 && res.status !== 401 && res.status < 500 : res.status === 403;
        if (!ok) wrong.push(`${role} ${method} ${route} → ${res.status}`);
      }
    }
    expect(wrong).to.deep.equal([]);
  });

  it('webhooks take no API key: without their signature or secret, every role gets 403', async () => {
    for (const role of ROLES) {
      for (const route of ['/webhooks/twilio/sms', '/webhooks/twilio/status', '/webhooks/email/inbound']) {
        const res = await fetch(base + route, {
          method: 'POST',
          headers: { authorization: `Bearer ${keys[role]}`, 'content-type': 'application/x-www-form-urlencoded' },
          body: 'MessageSid=SM1&From=%2B1&MessageStatus=delivered',
        });
        expect(res.status, `${role} ${route}`).to.equal(403);
      }
    }
  });

  it('pages: inbox for service, compliance and admin; audit for compliance and admin; campaigns and leads for marketers and admin; actions for those who work replies', async () => {
    const pages: [string, string, string[]][] = [
      ['GET', '/campaigns', ['admin', 'marketer']],
      ['GET', '/campaigns/followup', ['admin', 'marketer']],
      ['GET', '/campaigns/followup/send-test', ['admin', 'marketer']],
      ['POST', '/campaigns/followup/send-test', ['admin', 'marketer']],
      ['GET', '/campaigns/followup/run', ['admin', 'marketer']],
      ['POST', '/campaigns/followup/run', ['admin', 'marketer']],
      ['POST', '/campaigns/followup/retry', ['admin', 'marketer']],
      ['GET', '/leads?q=x', ['admin', 'marketer']],
      ['GET', '/leads/x', ['admin', 'marketer']],
      ['GET', '/campaigns/followup/report', ['admin', 'marketer']],
      ['GET', '/inbox', ['admin', 'service', 'compliance']],
      ['GET', `/inbox/${contact}`, ['admin', 'service', 'compliance']],
      ['POST', `/inbox/${contact}/accept`, ['admin', 'service']],
      ['POST', `/inbox/${contact}/opt-out`, ['admin', 'service']],
      ['GET', '/inbox?q=private', ['admin', 'service', 'compliance']],
      ['GET', `/inbox/${contact}?canned=thanks`, ['admin', 'service', 'compliance']],
      ['POST', `/inbox/${contact}/notes`, ['admin', 'service']],
      ['POST', '/me/availability', ['admin', 'service']],
      ['POST', '/me/notifications', ['admin', 'service']],
      ['GET', '/audit', ['admin', 'compliance']],
      ['GET', '/audit/verify', ['admin', 'compliance']],
      ['GET', '/audit/leads/x', ['admin', 'compliance']],
      ['GET', '/audit/leads/x/proof.json', ['admin', 'compliance']],
      ['GET', '/audit/leads/x/proof.csv', ['admin', 'compliance']],
    ];
    const wrong: string[] = [];
    for (const [method, route, allowed] of pages) {
      for (const role of ROLES) {
        const s = sessions[role]!;
        const res = await fetch(base + route, {
          method,
          redirect: 'manual',
          headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' },
          body: method === 'POST' ? new URLSearchParams({ _csrf: s.csrf, available: 'true' }).toString() : undefined,
        });
        await res.arrayBuffer();
        const ok = allowed.includes(role) ? res.status !== 403 && res.status < 500 : res.status === 403;
        if (!ok) wrong.push(`${role} ${method} ${route} → ${res.status}`);
      }
      // Without a session every page sends people to the login page.
      const anonymous = await fetch(base + route, { method, redirect: 'manual' });
      if (method === 'GET' && anonymous.status !== 303) wrong.push(`anonymous ${route} → ${anonymous.status}`);
    }
    expect(wrong).to.deep.equal([]);
  });

  it('answers 404, not content, for objects outside a user’s reach', async () => {
    const bob = sessions.bob!;
    const other = await fetch(`${base}/inbox/${otherQueueContact}`, { headers: { cookie: bob.cookie } });
    expect(other.status).to.equal(404);
    expect(await other.text()).not.to.contain('Unidentified');
    const act = await fetch(`${base}/inbox/${otherQueueContact}/close`, {
      method: 'POST',
      headers: { cookie: bob.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: bob.csrf, resolution: 'x' }).toString(),
    });
    expect(act.status).to.equal(404);
    const own = await fetch(`${base}/inbox/${contact}`, { headers: { cookie: bob.cookie } });
    expect(own.status).to.equal(200);
    expect((await fetch(`${base}/audit/leads/nobody`, { headers: { cookie: sessions.compliance!.cookie } })).status).to.equal(404);
  });

  it('never shows reply bodies to marketers, not even in a lead’s timeline', async () => {
    const timeline = async (role: string) => JSON.stringify(await (await api('GET', '/api/v1/leads/x/timeline', role)).json());
    expect(await timeline('marketer')).not.to.contain('My private reply');
    const leadPage = await fetch(`${base}/leads/x`, { headers: { cookie: sessions.marketer!.cookie } });
    expect(leadPage.status).to.equal(200);
    expect(await leadPage.text())
      .to.contain('data-replied="yes"')
      .and.not.contain('My private reply');
    // Service keys read it within their reach only: bob serves retention, the other key's person does not.
    expect(await timeline('bob')).to.contain('My private reply');
    expect(await timeline('service')).not.to.contain('My private reply');
  });
});
