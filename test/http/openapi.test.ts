import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import { expect } from 'chai';
import { createApiKey } from '../../src/access/keys.ts';
import type { Role } from '../../src/access/schema.ts';
import { saveUser } from '../../src/access/users.ts';
import { messageDomain } from '../../src/channels/index.ts';
import { replyAddress } from '../../src/inbound/addresses.ts';
import { parseInboundEmail } from '../../src/inbound/email.ts';
import { createApp } from '../../src/http/app.ts';
import { API_BASE, openApiDocument, type OpenApiDocument } from '../../src/http/openapi/document.ts';
import { settled, testEngine, type TestEngine } from '../helpers/engine.ts';
import { seedLeads } from '../helpers/seed.ts';
import { startWeb, type TestWeb } from '../helpers/web.ts';

/**
 * The API is held to its description: every operation of the OpenAPI document is called, and
 * every answer (successes and the errors that are cheap to cause) is checked against what the
 * document says of its status and body. The document must also cover exactly the routes the app
 * serves, with the permission each route checks.
 */

const FIXTURE = path.resolve('test/fixtures/openapi');
const PASSWORD = 'correct horse battery';
const SNAKE = /^[a-z0-9_]+$/;
type Schema = Record<string, unknown>;

interface Call {
  method: 'GET' | 'POST';
  path: string;
  /** Whose key; `none` sends no key, `forged` an unknown one. Default admin. */
  as?: Role | 'none' | 'forged';
  body?: unknown;
  /** A body sent as is (malformed or oversized), not checked against the request schema. */
  raw?: string;
  /** The status this call is meant to cause (so the error cases really are covered). */
  expect: number;
  /** The request breaks the documented request schema (body or query), so joi must refuse it too. */
  invalid?: true;
}

interface Exchange extends Call {
  status: number;
  type: string;
  text: string;
}

/** One documented operation. */
interface Operation {
  id: string;
  method: string;
  template: string;
  pattern: RegExp;
  pointer: string;
  spec: Schema;
}

/** A JSON pointer as a URI fragment (for `$ref`s into the document). */
const pointer = (...tokens: string[]) => '#/' + tokens.map((t) => encodeURIComponent(t.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

describe('OpenAPI document', function () {
  this.timeout(60_000);
  let t: TestEngine;
  let web: TestWeb;
  let doc: OpenApiDocument;
  let operations: Operation[];
  let ajv: Ajv2020;
  const keys: Record<string, string> = {};
  const exchanges: Exchange[] = [];

  /** Resolves a `$ref` into the document (components), or returns the object itself. */
  function deref<T = Schema>(value: unknown): T {
    let current = value as Schema;
    while (typeof current?.$ref === 'string') {
      const ref = current.$ref as string;
      current = ref
        .slice(2)
        .split('/')
        .reduce<unknown>((node, token) => (node as Schema)?.[token.replace(/~1/g, '/').replace(/~0/g, '~')], doc) as Schema;
      if (current === undefined) throw new Error(`unresolved $ref ${ref}`);
    }
    return current as T;
  }

  const compiled = new Map<string, ValidateFunction>();
  /** The validator of the schema at a JSON pointer of the document (its `$ref`s resolve inside the document). */
  function validatorAt(at: string): ValidateFunction {
    let validate = compiled.get(at);
    if (!validate) {
      validate = ajv.compile({ $ref: `openapi.json${at}` });
      compiled.set(at, validate);
    }
    return validate;
  }

  const describeErrors = (errors: ErrorObject[] | null | undefined) =>
    (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ' ' + JSON.stringify(e.params) : ''}`).join('; ');

  async function send(call: Call): Promise<Exchange> {
    const key = call.as === 'none' ? undefined : call.as === 'forged' ? 'tp_forged_key' : keys[call.as ?? 'admin'];
    const res = await fetch(web.base + call.path, {
      method: call.method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(call.raw !== undefined || call.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: call.raw ?? (call.body === undefined ? undefined : JSON.stringify(call.body)),
    });
    const exchange = { ...call, status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
    exchanges.push(exchange);
    return exchange;
  }
  const json = (exchange: Exchange) => JSON.parse(exchange.text) as Record<string, unknown>;

  before(async () => {
    web = await startWeb();
    t = await testEngine({
      CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'),
      TEMPLATES_DIR: path.join(FIXTURE, 'templates'),
      PUBLIC_URL: web.base,
    });
    web.serve(t.engine);
    await t.engine.startDispatcher();
    // The document as served (without a key) is the one every answer is held to.
    doc = JSON.parse((await send({ method: 'GET', path: `${API_BASE}/openapi.json`, as: 'none', expect: 200 })).text) as OpenApiDocument;
    expect(doc).to.deep.equal(JSON.parse(JSON.stringify(openApiDocument())));

    ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
    formats.default(ajv);
    ajv.addKeyword('x-free-form');
    // The whole document, so that pointers into it (and its own $refs) resolve; its top-level
    // keys are OpenAPI's, not JSON Schema's.
    ajv.addVocabulary(['openapi', 'info', 'tags', 'security', 'paths', 'components']);
    ajv.addSchema(doc, 'openapi.json');

    operations = Object.entries(doc.paths).flatMap(([template, item]) =>
      Object.entries(item).map(([method, spec]) => ({
        id: (spec as Schema).operationId as string,
        method: method.toUpperCase(),
        template,
        pattern: new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`),
        pointer: pointer('paths', template, method),
        spec: spec as Schema,
      })),
    );

    for (const [email, role] of [
      ['admin@example.com', 'admin'],
      ['ann@example.com', 'service'],
      ['service@example.com', 'service'],
      ['lena@example.com', 'service'],
    ] as const) {
      await saveUser(t.database.pool, { email, role, password: PASSWORD, languages: ['en'] });
    }
    for (const role of ['admin', 'marketer', 'compliance', 'service'] as const) {
      keys[role] = (
        await createApiKey(t.database.pool, role, `openapi-${role}`, role === 'service' ? 'service@example.com' : undefined)
      ).key;
    }
    await seedLeads(t.database, [
      { id: 'p-1', email: 'p1@example.com', first: 'Pia', locale: 'en', orders: 3, consent: ['grant', 'confirm'] },
      { id: 'p-2', email: 'p2@example.com', first: 'Per', locale: null, orders: 2, consent: ['grant'] },
      {
        id: 'p-3',
        email: null,
        phone: '+4915112345678',
        first: 'Pal',
        locale: null,
        orders: 12,
        consent: [],
        sms: ['grant'],
        preferred: 'sms',
      },
    ]);

    // ---- meta and campaigns
    await send({ method: 'GET', path: `${API_BASE}/campaigns`, as: 'marketer', expect: 200 });
    await send({ method: 'GET', path: `${API_BASE}/campaigns`, as: 'none', expect: 401 });
    await send({ method: 'GET', path: `${API_BASE}/campaigns`, as: 'forged', expect: 401 });
    await send({ method: 'GET', path: `${API_BASE}/campaigns/spring/plan`, as: 'service', expect: 200 });
    await send({ method: 'GET', path: `${API_BASE}/campaigns/nope/plan`, expect: 404 });
    await send({ method: 'GET', path: `${API_BASE}/campaigns/onboarding/plan`, expect: 422 });
    await send({ method: 'GET', path: `${API_BASE}/campaigns/broken/plan`, expect: 422 });
    await send({ method: 'POST', path: `${API_BASE}/campaigns/spring/runs`, as: 'marketer', body: { occurrence: 'openapi' }, expect: 201 });
    await send({ method: 'POST', path: `${API_BASE}/campaigns/spring/runs`, as: 'marketer', expect: 201 });
    await send({ method: 'POST', path: `${API_BASE}/campaigns/spring/runs`, as: 'service', body: {}, expect: 403 });
    await send({ method: 'POST', path: `${API_BASE}/campaigns/spring/runs`, body: { occurrence: '' }, expect: 400, invalid: true });
    await send({
      method: 'POST',
      path: `${API_BASE}/campaigns/spring/runs`,
      body: { occurrence: 'x', extra: 1 },
      expect: 400,
      invalid: true,
    });
    await send({ method: 'POST', path: `${API_BASE}/campaigns/nope/runs`, body: {}, expect: 404 });
    await send({ method: 'POST', path: `${API_BASE}/campaigns/onboarding/runs`, body: {}, expect: 422 });
    await send({
      method: 'POST',
      path: `${API_BASE}/campaigns/spring/retry`,
      as: 'marketer',
      body: { reason: 'render_error' },
      expect: 200,
    });
    await send({ method: 'POST', path: `${API_BASE}/campaigns/spring/retry`, body: { step: 'nope' }, expect: 400 });
    await send({ method: 'POST', path: `${API_BASE}/campaigns/spring/retry`, body: { skip: 'yes' }, expect: 400, invalid: true });
    await send({
      method: 'POST',
      path: `${API_BASE}/campaigns/spring/send-test`,
      as: 'admin',
      body: { step: 'offer', persona: 'regular', to: 'admin@example.com' },
      expect: 201,
    });
    await send({
      method: 'POST',
      path: `${API_BASE}/campaigns/spring/send-test`,
      body: { step: 'offer', persona: 'regular', to: 'x@example.org' },
      expect: 403,
    });
    await send({
      method: 'POST',
      path: `${API_BASE}/campaigns/spring/send-test`,
      body: { step: 'offer', to: 'admin@example.com' },
      expect: 400,
      invalid: true,
    });
    await send({ method: 'GET', path: `${API_BASE}/campaigns/spring/report?occurrence=openapi`, as: 'compliance', expect: 200 });
    await send({ method: 'GET', path: `${API_BASE}/campaigns/spring/report`, expect: 200 });
    await send({ method: 'GET', path: `${API_BASE}/campaigns/spring/report?occurrence=never`, expect: 404 });
    await send({ method: 'GET', path: `${API_BASE}/campaigns/spring/report?occurrence=`, expect: 400, invalid: true });
    await send({ method: 'GET', path: `${API_BASE}/campaigns/spring/report?bogus=1`, expect: 400, invalid: true });

    // ---- leads
    const n1 = {
      external_id: 'n-1',
      email: 'n1@example.com',
      tags: ['customer'],
      attributes: { 'Favourite Colour': 'blue', vip: true, orders: 1 },
    };
    await send({ method: 'POST', path: `${API_BASE}/leads`, as: 'marketer', body: n1, expect: 201 });
    await send({ method: 'POST', path: `${API_BASE}/leads`, as: 'marketer', body: { ...n1, first_name: 'Nia' }, expect: 200 });
    await send({
      method: 'POST',
      path: `${API_BASE}/leads`,
      body: [
        { external_id: 'n-2', phone: '+1 555 0100' },
        { external_id: 'n-3', email: 'n3@example.com', timezone: 'Europe/Berlin', locale: 'de-DE' },
      ],
      expect: 201,
    });
    await send({ method: 'POST', path: `${API_BASE}/leads`, body: [], expect: 400, invalid: true });
    await send({ method: 'POST', path: `${API_BASE}/leads`, expect: 400 });
    await send({ method: 'POST', path: `${API_BASE}/leads`, body: [{ external_id: 'bad', email: 'nope' }], expect: 400, invalid: true });
    await send({ method: 'POST', path: `${API_BASE}/leads`, body: { external_id: 'no-address' }, expect: 400, invalid: true });
    await send({ method: 'POST', path: `${API_BASE}/leads`, as: 'compliance', body: n1, expect: 403 });
    await send({ method: 'GET', path: `${API_BASE}/leads/n-1`, as: 'service', expect: 200 });
    await send({ method: 'GET', path: `${API_BASE}/leads/nobody`, expect: 404 });
    await send({ method: 'GET', path: `${API_BASE}/leads/no%00body`, expect: 400 });

    // ---- events
    const signedUp = { id: 'e-1', lead: 'p-1', event: 'signed_up', properties: { plan: 'pro', 'Landing Page': '/spring' } };
    await send({ method: 'POST', path: `${API_BASE}/events`, as: 'marketer', body: signedUp, expect: 201 });
    await send({ method: 'POST', path: `${API_BASE}/events`, as: 'marketer', body: signedUp, expect: 200 });
    await send({
      method: 'POST',
      path: `${API_BASE}/events`,
      body: [
        { lead: 'new-1', event: 'signed_up', email: 'new1@example.com', occurred_at: '2026-01-01T10:00:00Z' },
        { lead: 'p-2', event: 'visited' },
      ],
      expect: 201,
    });
    await send({
      method: 'POST',
      path: `${API_BASE}/events`,
      body: [
        { lead: 'ghost', event: 'visited' },
        { lead: 'p-2', event: 'visited' },
      ],
      expect: 422,
    });
    await send({ method: 'POST', path: `${API_BASE}/events`, body: { lead: 'p-1', event: 'Bad Event' }, expect: 400, invalid: true });
    await send({ method: 'POST', path: `${API_BASE}/events`, body: [], expect: 400, invalid: true });
    await send({ method: 'POST', path: `${API_BASE}/events`, as: 'service', body: { lead: 'p-1', event: 'visited' }, expect: 403 });
    await send({ method: 'POST', path: `${API_BASE}/events`, raw: '{"lead": ', expect: 400 });
    await send({
      method: 'POST',
      path: `${API_BASE}/events`,
      raw: JSON.stringify({ lead: 'p-1', event: 'x', properties: { pad: 'x'.repeat(6_000_000) } }),
      expect: 413,
    });

    // ---- Segment's Tracking API
    const purchased = { userId: 'p-1', event: 'Item Purchased', messageId: 'seg-1', properties: { revenue: 14.99 } };
    await send({ method: 'POST', path: `${API_BASE}/segment/track`, as: 'marketer', body: purchased, expect: 201 });
    await send({ method: 'POST', path: `${API_BASE}/segment/track`, body: purchased, expect: 200 });
    await send({ method: 'POST', path: `${API_BASE}/segment/identify`, body: { userId: 'p-1', traits: { plan: 'pro' } }, expect: 200 });
    await send({
      method: 'POST',
      path: `${API_BASE}/segment/identify`,
      body: { anonymousId: 'seg-new', traits: { email: 'seg-new@example.com', name: 'Sam Segment' } },
      expect: 201,
    });
    await send({
      method: 'POST',
      path: `${API_BASE}/segment/batch`,
      body: {
        batch: [
          { type: 'identify', userId: 'seg-b', traits: { email: 'seg-b@example.com' } },
          { type: 'track', userId: 'seg-b', event: 'Item Viewed', messageId: 'seg-b-1' },
          { type: 'page', userId: 'seg-b', name: 'Home' },
        ],
      },
      expect: 201,
    });
    await send({
      method: 'POST',
      path: `${API_BASE}/segment/batch`,
      body: { batch: [{ type: 'track', userId: 'seg-ghost', event: 'Item Viewed' }] },
      expect: 422,
    });
    await send({ method: 'POST', path: `${API_BASE}/segment/track`, body: { event: 'Item Viewed' }, expect: 400, invalid: true });
    await send({ method: 'POST', path: `${API_BASE}/segment/batch`, body: { batch: [] }, expect: 400, invalid: true });
    await send({ method: 'POST', path: `${API_BASE}/segment/track`, as: 'service', body: purchased, expect: 403 });

    // ---- messages (sent by now: replies are tied to sent messages)
    await settled(t, 'spring', 'openapi');
    const outbox = json(await send({ method: 'GET', path: `${API_BASE}/messages?campaign=spring`, as: 'marketer', expect: 200 }));
    await send({ method: 'GET', path: `${API_BASE}/messages?limit=1&status=queued`, expect: 200 });
    await send({ method: 'GET', path: `${API_BASE}/messages?status=bogus`, expect: 400, invalid: true });
    await send({ method: 'GET', path: `${API_BASE}/messages?limit=0`, expect: 400, invalid: true });

    // ---- consents
    await send({
      method: 'POST',
      path: `${API_BASE}/consents`,
      as: 'marketer',
      body: { lead: 'p-3', channel: 'sms', purpose: 'marketing', action: 'withdraw', evidence: { ip: '2001:db8::1' } },
      expect: 201,
    });
    await send({
      method: 'POST',
      path: `${API_BASE}/consents`,
      body: {
        lead: 'p-2',
        channel: 'email',
        purpose: 'marketing',
        action: 'grant',
        source: 'signup-form',
        evidence: { ip: '192.0.2.1', user_agent: 'test', form: 'signup', page: 'https://shop.example/newsletter' },
        notice: { version: 'v1', text: 'We will email you our offers.' },
      },
      expect: 201,
    });
    await send({
      method: 'POST',
      path: `${API_BASE}/consents`,
      body: { lead: 'nobody', channel: 'sms', purpose: 'marketing', action: 'grant' },
      expect: 404,
    });
    await send({
      method: 'POST',
      path: `${API_BASE}/consents`,
      body: { lead: 'p-3', channel: 'email', purpose: 'marketing', action: 'grant' },
      expect: 422,
    });
    await send({ method: 'POST', path: `${API_BASE}/consents`, body: { lead: 'p-1' }, expect: 400, invalid: true });
    await send({
      method: 'POST',
      path: `${API_BASE}/consents`,
      body: { lead: 'p-1', channel: 'sms', purpose: 'marketing', action: 'grant', occurred_at: '2999-01-01T00:00:00Z' },
      expect: 400,
    });
    await send({
      method: 'POST',
      path: `${API_BASE}/consents`,
      body: { lead: 'p-1', channel: 'sms', purpose: 'marketing', action: 'grant', occurred_at: '2020-01-01T00:00:00Z' },
      expect: 400,
    });
    await send({
      method: 'POST',
      path: `${API_BASE}/consents`,
      body: { lead: 'p-1', channel: 'sms', purpose: 'marketing', action: 'grant', evidence: { ip: '192.0.2.1', notes: 'Jane, called' } },
      expect: 400,
      invalid: true,
    });
    await send({
      method: 'POST',
      path: `${API_BASE}/consents`,
      as: 'compliance',
      body: { lead: 'p-1', channel: 'sms', purpose: 'marketing', action: 'grant' },
      expect: 403,
    });
    await send({ method: 'GET', path: `${API_BASE}/consents/check?lead=p-1&channel=email&purpose=marketing`, expect: 200 });
    await send({
      method: 'GET',
      path: `${API_BASE}/consents/check?lead=p-2&channel=email&purpose=marketing&at=2000-01-01T00:00:00Z`,
      as: 'compliance',
      expect: 200,
    });
    await send({ method: 'GET', path: `${API_BASE}/consents/check?lead=p-2&channel=email&purpose=marketing`, expect: 200 });
    await send({ method: 'GET', path: `${API_BASE}/consents/check?lead=p-1&channel=fax&purpose=marketing`, expect: 400, invalid: true });
    await send({ method: 'GET', path: `${API_BASE}/consents/check?lead=nobody&channel=sms&purpose=marketing`, expect: 404 });
    await send({ method: 'GET', path: `${API_BASE}/consents/check?lead=p-1&channel=sms&purpose=marketing`, as: 'marketer', expect: 403 });
    await send({ method: 'GET', path: `${API_BASE}/consents/export?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z`, expect: 200 });
    await send({
      method: 'GET',
      path: `${API_BASE}/consents/export?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&format=jsonl`,
      expect: 200,
    });
    await send({ method: 'GET', path: `${API_BASE}/consents/export?from=2100-01-01T00:00:00Z&to=2000-01-01T00:00:00Z`, expect: 400 });
    await send({ method: 'GET', path: `${API_BASE}/consents/export?from=2000-01-01T00:00:00Z`, expect: 400, invalid: true });
    await send({
      method: 'GET',
      path: `${API_BASE}/consents/export?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z`,
      as: 'service',
      expect: 403,
    });

    // ---- replies: one answering Pia's campaign email (identified by its reply token), a complaint
    // from another person (a second one from Pia on the same campaign would join her open contact),
    // and one nobody can place.
    const piasMessage = (outbox.messages as { id: number; lead: string; channel: string }[]).find(
      (m) => m.lead === 'p-1' && m.channel === 'email',
    )!;
    const reply = async (from: string, to: string, id: string, text: string) =>
      (await t.engine.receiveReply(
        await parseInboundEmail(Buffer.from(`From: ${from}\r\nTo: ${to}\r\nSubject: Re: offer\r\nMessage-ID: <${id}>\r\n\r\n${text}\r\n`)),
      ))!.contactId!;
    const token = replyAddress(t.engine.secret, messageDomain(t.config), piasMessage.id);
    const answered = await reply('p1@example.com', token, 'r1@example.com', 'Is the offer valid online too?');
    const complaint = await reply('n3@example.com', 'hello@example.com', 'r2@example.com', 'I am disappointed, this is a complaint.');
    const stranger = await reply('someone@example.org', 'hello@example.com', 'r3@example.org', 'Hello there');

    // ---- inbound
    await send({ method: 'GET', path: `${API_BASE}/reports/repeats`, as: 'marketer', expect: 200 });
    await send({ method: 'GET', path: `${API_BASE}/reports/repeats?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z`, expect: 200 });
    await send({
      method: 'GET',
      path: `${API_BASE}/reports/repeats?from=2100-01-01T00:00:00Z&to=2000-01-01T00:00:00Z`,
      expect: 400,
    });
    const inbound = `${API_BASE}/inbound`;
    await send({ method: 'GET', path: inbound, expect: 200 });
    await send({ method: 'GET', path: `${inbound}?status=open&automatic=true&limit=10`, as: 'service', expect: 200 });
    await send({ method: 'GET', path: `${inbound}?status=bogus`, expect: 400, invalid: true });
    await send({ method: 'GET', path: inbound, as: 'marketer', expect: 403 });
    await send({ method: 'GET', path: `${inbound}/${answered}`, as: 'compliance', expect: 200 });
    await send({ method: 'GET', path: `${inbound}/${stranger}`, expect: 200 });
    await send({ method: 'GET', path: `${inbound}/999999`, expect: 404 });
    await send({ method: 'GET', path: `${inbound}/${stranger}`, as: 'service', expect: 404 });
    await send({ method: 'POST', path: `${inbound}/${answered}/accept`, body: { user: 'ann@example.com' }, expect: 200 });
    await send({ method: 'POST', path: `${inbound}/${answered}/accept`, body: { user: 'ann@example.com' }, expect: 409 });
    await send({ method: 'POST', path: `${inbound}/${complaint}/accept`, body: { user: 'nobody@example.com' }, expect: 422 });
    await send({ method: 'POST', path: `${inbound}/${complaint}/accept`, body: { user: 'not an email' }, expect: 400, invalid: true });
    await send({ method: 'POST', path: `${inbound}/${complaint}/accept`, as: 'marketer', body: {}, expect: 403 });
    await send({ method: 'POST', path: `${inbound}/999999/accept`, body: {}, expect: 404 });
    await send({ method: 'POST', path: `${inbound}/${answered}/reply`, body: { text: 'Yes, it is.' }, expect: 202 });
    await send({
      method: 'POST',
      path: `${inbound}/${answered}/reply`,
      as: 'service',
      body: { text: 'Yes.', channel: 'sms' },
      expect: 422,
    });
    await send({ method: 'POST', path: `${inbound}/${answered}/reply`, body: { text: '' }, expect: 400, invalid: true });
    await send({ method: 'POST', path: `${inbound}/${stranger}/assign`, body: { queue: 'retention' }, expect: 200 });
    await send({ method: 'POST', path: `${inbound}/${stranger}/assign`, body: { user: 'lena@example.com' }, expect: 200 });
    await send({ method: 'POST', path: `${inbound}/${stranger}/assign`, body: { queue: 'nope' }, expect: 422 });
    await send({ method: 'POST', path: `${inbound}/${stranger}/assign`, body: {}, expect: 400, invalid: true });
    await send({
      method: 'POST',
      path: `${inbound}/${complaint}/close`,
      body: { resolution: 'Refunded.', user: 'ann@example.com', sales_opportunity: { note: 'asked about the new range', product: 'XL' } },
      expect: 200,
    });
    await send({ method: 'POST', path: `${inbound}/${complaint}/close`, body: { resolution: 'Again.' }, expect: 409 });
    await send({ method: 'POST', path: `${inbound}/${complaint}/reply`, body: { text: 'Too late?' }, expect: 409 });
    await send({ method: 'POST', path: `${inbound}/${complaint}/assign`, body: { queue: 'general' }, expect: 409 });
    await send({ method: 'POST', path: `${inbound}/${answered}/close`, body: {}, expect: 400, invalid: true });
    await send({
      method: 'POST',
      path: `${inbound}/${answered}/close`,
      body: { resolution: 'x', sales_opportunity: { product: 'no note' } },
      expect: 400,
      invalid: true,
    });
    await send({ method: 'GET', path: `${API_BASE}/reports/csat`, as: 'marketer', expect: 200 });
    await send({ method: 'POST', path: `${inbound}/${answered}/opt-out`, as: 'service', body: { user: 'ann@example.com' }, expect: 403 });
    await send({ method: 'POST', path: `${inbound}/${answered}/opt-out`, body: {}, expect: 200 });
    await send({ method: 'POST', path: `${inbound}/${stranger}/opt-out`, body: {}, expect: 422 });
    await send({ method: 'POST', path: `${inbound}/${complaint}/opt-out`, body: {}, expect: 409 });
    // ---- the desk: search, notes, canned answers, service levels
    await send({ method: 'GET', path: `${inbound}?q=${encodeURIComponent('"offer valid" online -shop')}`, as: 'service', expect: 200 });
    await send({ method: 'GET', path: `${inbound}?q=${'x'.repeat(201)}`, expect: 400, invalid: true });
    await send({ method: 'POST', path: `${inbound}/${answered}/notes`, body: { text: 'Asked twice already.' }, expect: 201 });
    await send({ method: 'POST', path: `${inbound}/${answered}/notes`, body: {}, expect: 400, invalid: true });
    await send({ method: 'POST', path: `${inbound}/999999/notes`, body: { text: 'Nobody’s.' }, expect: 404 });
    await send({ method: 'POST', path: `${inbound}/${answered}/notes`, as: 'compliance', body: { text: 'No.' }, expect: 403 });
    await send({ method: 'GET', path: `${inbound}/canned-answers`, expect: 200 });
    await send({ method: 'GET', path: `${inbound}/canned-answers`, as: 'compliance', expect: 403 });
    await send({ method: 'GET', path: `${inbound}/${stranger}/canned-answers/thanks`, expect: 200 });
    await send({ method: 'GET', path: `${inbound}/${stranger}/canned-answers/thanks?user=ann@example.com`, as: 'service', expect: 403 });
    await send({ method: 'GET', path: `${inbound}/${stranger}/canned-answers/call-back`, expect: 422 });
    await send({ method: 'GET', path: `${inbound}/${stranger}/canned-answers/nope`, expect: 404 });
    await send({ method: 'GET', path: `${inbound}/service-levels`, expect: 200 });
    await send({
      method: 'GET',
      path: `${inbound}/service-levels?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z`,
      as: 'service',
      expect: 200,
    });
    await send({ method: 'GET', path: `${inbound}/service-levels?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z`, expect: 400 });
    await send({ method: 'GET', path: `${inbound}/service-levels?from=yesterday`, expect: 400, invalid: true });
    await send({ method: 'GET', path: `${inbound}/service-levels`, as: 'marketer', expect: 403 });

    // ---- what the replies left behind: timelines and proofs
    await send({ method: 'GET', path: `${API_BASE}/leads/p-1/timeline`, as: 'service', expect: 200 });
    await send({ method: 'GET', path: `${API_BASE}/leads/p-1/timeline`, as: 'marketer', expect: 200 });
    await send({ method: 'GET', path: `${API_BASE}/leads/nobody/timeline`, expect: 404 });
    await send({ method: 'GET', path: `${API_BASE}/leads/p-1/export`, as: 'compliance', expect: 200 });
    await send({ method: 'GET', path: `${API_BASE}/leads/p-1/export`, as: 'marketer', expect: 403 });
    await send({ method: 'GET', path: `${API_BASE}/leads/nobody/export`, expect: 404 });
    await send({ method: 'GET', path: `${API_BASE}/consents/proof?lead=p-1`, as: 'compliance', expect: 200 });
    await send({ method: 'GET', path: `${API_BASE}/consents/proof?lead=p-3&format=csv`, expect: 200 });
    await send({ method: 'GET', path: `${API_BASE}/consents/proof?lead=nobody`, expect: 404 });
    await send({ method: 'GET', path: `${API_BASE}/consents/proof`, expect: 400, invalid: true });
    await send({ method: 'GET', path: `${API_BASE}/consents/proof?lead=p-1`, as: 'marketer', expect: 403 });
  });
  after(async () => {
    await web.close();
    await t?.close();
  });

  const operationOf = (e: Exchange) => {
    const bare = e.path.split('?')[0]!;
    return operations.find((op) => op.method === e.method && op.pattern.test(bare));
  };

  it('is a valid OpenAPI 3.1 document: it passes the OpenAPI schema, every $ref resolves, every schema compiles', async () => {
    const result = await new Validator().validate(structuredClone(doc) as Record<string, unknown>);
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)).to.deep.equal([]);
    expect(result.valid).to.equal(true);

    // Every $ref anywhere (also in extensions such as x-item-schema) points at something.
    const refs: string[] = [];
    const collect = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(collect);
      else if (node && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (key === '$ref' && typeof value === 'string') refs.push(value);
          else collect(value);
        }
      }
    };
    collect(doc);
    const unresolved = refs.filter((ref) => {
      try {
        deref({ $ref: ref });
        return false;
      } catch {
        return true;
      }
    });
    expect(unresolved).to.deep.equal([]);

    // Every schema compiles (strict ajv: an unknown keyword or a misspelt one fails here).
    const failures: string[] = [];
    const tryCompile = (at: string) => {
      try {
        validatorAt(at);
      } catch (err) {
        failures.push(`${at}: ${(err as Error).message}`);
      }
    };
    for (const name of Object.keys(doc.components.schemas)) tryCompile(pointer('components', 'schemas', name));
    for (const op of operations) {
      const parameters = (op.spec.parameters ?? []) as Schema[];
      parameters.forEach((_p, i) => tryCompile(`${op.pointer}/parameters/${i}/schema`));
      if (op.spec.requestBody) tryCompile(`${op.pointer}/requestBody/content/application~1json/schema`);
      for (const [status, response] of Object.entries(op.spec.responses as Schema)) {
        const base =
          typeof (response as Schema).$ref === 'string'
            ? pointer(...((response as Schema).$ref as string).slice(2).split('/'))
            : `${op.pointer}/responses/${status}`;
        for (const type of Object.keys(deref<{ content?: Schema }>(response).content ?? {}))
          tryCompile(`${base}/content/${pointer(type).slice(2)}/schema`);
      }
    }
    expect(failures).to.deep.equal([]);
    expect(compiled.size).to.be.greaterThan(40);
  });

  /**
   * The app's routes are read from express's router stack (routes, and routers mounted under a
   * path), so a route added to any router under /api/v1 without a line in the document fails here;
   * an operation the app no longer serves fails too. Each route's permission is the one its
   * requirePermission() handler checks, and must be the document's `x-permission`; its body limit
   * the one its jsonBody() parser reads, the document's `x-body-limit`.
   */
  it('documents every /api/v1 route the app serves, with the permission and body limit the route checks, and no other', () => {
    interface Layer {
      route?: { path: string; methods: Record<string, boolean>; stack: { handle: { permission?: string; bodyLimit?: string } }[] };
      handle?: { stack?: Layer[] };
      rawPath?: unknown;
    }
    const served: string[] = [];
    const walk = (stack: Layer[], prefix: string) => {
      for (const layer of stack) {
        if (layer.route) {
          const permission = layer.route.stack.map((l) => l.handle.permission).find((p) => p !== undefined) ?? null;
          const limit = layer.route.stack.map((l) => l.handle.bodyLimit).find((p) => p !== undefined) ?? null;
          const full = (prefix + layer.route.path).replace(/(.)\/$/, '$1');
          for (const method of Object.keys(layer.route.methods).filter((m) => m !== '_all')) {
            served.push(`${method.toUpperCase()} ${full.replace(/:[A-Za-z_]+/g, '{}')} ${permission} ${limit}`);
          }
        } else if (Array.isArray(layer.handle?.stack)) {
          if (typeof layer.rawPath !== 'string')
            throw new Error('cannot read the path a router is mounted at (express internals changed?)');
          walk(layer.handle.stack, prefix + (layer.rawPath === '/' ? '' : layer.rawPath));
        }
      }
    };
    walk((createApp(t.engine) as unknown as { router: { stack: Layer[] } }).router.stack, '');
    const api = served.filter((r) => r.split(' ')[1]!.startsWith(`${API_BASE}/`)).sort();
    const documented = operations
      .map((op) => `${op.method} ${op.template.replace(/\{[^}]+\}/g, '{}')} ${op.spec['x-permission']} ${op.spec['x-body-limit'] ?? null}`)
      .sort();
    expect(api.length).to.be.greaterThan(15);
    expect(api).to.deep.equal(documented);
  });

  it('answers every call with a documented status and a body that matches the documented schema', () => {
    const problems: string[] = [];
    let lines = 0;
    for (const e of exchanges) {
      const where = `${e.method} ${e.path.slice(0, 120)} → ${e.status}`;
      if (e.status !== e.expect) problems.push(`${where}: expected ${e.expect} (${e.text.slice(0, 300)})`);
      const op = operationOf(e);
      if (!op) {
        problems.push(`${where}: no documented operation`);
        continue;
      }
      const response = (op.spec.responses as Schema)[String(e.status)] as Schema | undefined;
      if (!response) {
        problems.push(`${where}: status not documented for ${op.id}`);
        continue;
      }
      const base =
        typeof response.$ref === 'string'
          ? pointer(...(response.$ref as string).slice(2).split('/'))
          : `${op.pointer}/responses/${e.status}`;
      const content = deref<{ content?: Record<string, Schema> }>(response).content ?? {};
      const type = e.type.split(';')[0]!.trim();
      if (!content[type]) {
        problems.push(`${where}: content type ${type} not documented (${Object.keys(content).join(', ')})`);
        continue;
      }
      const at = `${base}/content/${pointer(type).slice(2)}`;
      const check = (value: unknown, schemaAt: string, label: string) => {
        const validate = validatorAt(schemaAt);
        if (!validate(value)) problems.push(`${where}${label}: ${describeErrors(validate.errors)}`);
      };
      if (type === 'application/json') check(JSON.parse(e.text), `${at}/schema`, '');
      else if (content[type]!['x-item-schema']) {
        e.text
          .split('\n')
          .filter(Boolean)
          .forEach((line, i) => {
            check(JSON.parse(line), `${at}/x-item-schema`, ` line ${i + 1}`);
            lines++;
          });
      }
    }
    expect(problems, problems.join('\n')).to.deep.equal([]);
    expect(lines, 'NDJSON lines checked').to.be.greaterThan(3);
  });

  it('calls every documented operation with a success, and the errors each kind of operation has', () => {
    const succeeded = new Set(exchanges.filter((e) => e.status < 300).map((e) => operationOf(e)?.id));
    expect(operations.map((op) => op.id).filter((id) => !succeeded.has(id))).to.deep.equal([]);
    const statuses = new Set(exchanges.map((e) => e.status));
    for (const status of [200, 201, 202, 400, 401, 403, 404, 409, 413, 422])
      expect(statuses.has(status), `some call answered ${status}`).to.equal(true);
  });

  it('refuses exactly the requests its documented request schemas refuse (joi and the converted schemas agree)', () => {
    const lenient = new Ajv2020({ allErrors: true, strict: false, coerceTypes: true });
    formats.default(lenient);
    lenient.addSchema(doc as object, 'openapi.json');
    const disagreements: string[] = [];
    for (const e of exchanges) {
      const op = operationOf(e);
      if (!op || e.raw !== undefined) continue;
      const verdicts: boolean[] = [];
      if (e.body !== undefined && op.spec.requestBody) {
        const validate = validatorAt(`${op.pointer}/requestBody/content/application~1json/schema`);
        verdicts.push(validate(e.body));
      }
      const query = ((op.spec.parameters ?? []) as Schema[]).filter((p) => p.in === 'query');
      if (query.length > 0) {
        const values = Object.fromEntries(new URL(e.path, 'http://x').searchParams);
        const schema = {
          type: 'object',
          properties: Object.fromEntries(
            query.map((p) => [
              p.name,
              { $ref: `openapi.json${op.pointer}/parameters/${(op.spec.parameters as Schema[]).indexOf(p)}/schema` },
            ]),
          ),
          required: query.filter((p) => p.required).map((p) => p.name),
          additionalProperties: false,
        };
        verdicts.push(lenient.validate(schema, values));
      }
      const valid = verdicts.every(Boolean);
      if (verdicts.length > 0 && valid === Boolean(e.invalid)) {
        disagreements.push(
          `${e.method} ${e.path}: the document ${valid ? 'accepts' : 'refuses'} ${JSON.stringify(e.body ?? null)}, the app answered ${e.status}`,
        );
      }
    }
    expect(disagreements, disagreements.join('\n')).to.deep.equal([]);
  });

  /**
   * Every property name in every JSON answer is snake_case. Maps whose keys are data (lead
   * attributes, event properties, consent evidence, counts by reason or category, filters of
   * campaign files, this document itself) are marked `x-free-form` in the document and skipped.
   */
  it('answers in snake_case, except inside the free-form maps the document marks', () => {
    const offenders: string[] = [];
    const branches = (schema: unknown): Schema[] => {
      if (!schema || typeof schema !== 'object') return [];
      const s = deref(schema);
      return [s, ...(['anyOf', 'oneOf', 'allOf'] as const).flatMap((k) => ((s[k] as unknown[]) ?? []).flatMap(branches))];
    };
    const walk = (value: unknown, schemas: Schema[], at: string, where: string) => {
      const all = schemas.flatMap(branches);
      if (all.some((s) => s['x-free-form'])) return;
      if (Array.isArray(value)) {
        value.forEach((item, i) => walk(item, all.map((s) => s.items as Schema).filter(Boolean), `${at}/${i}`, where));
      } else if (value && typeof value === 'object') {
        for (const [key, child] of Object.entries(value)) {
          if (!SNAKE.test(key)) offenders.push(`${where}: ${at}/${key}`);
          const sub = all.flatMap((s) => [
            (s.properties as Record<string, Schema> | undefined)?.[key],
            typeof s.additionalProperties === 'object' ? (s.additionalProperties as Schema) : undefined,
          ]);
          walk(
            child,
            sub.filter((x): x is Schema => x !== undefined),
            `${at}/${key}`,
            where,
          );
        }
      }
    };
    let checked = 0;
    for (const e of exchanges) {
      const op = operationOf(e);
      const response = op && ((op.spec.responses as Schema)[String(e.status)] as Schema | undefined);
      const content = response ? (deref<{ content?: Record<string, Schema> }>(response).content ?? {}) : {};
      const where = `${e.method} ${e.path.slice(0, 80)} → ${e.status}`;
      const type = e.type.split(';')[0]!.trim();
      if (type === 'application/json') {
        walk(JSON.parse(e.text), [content[type]?.schema as Schema].filter(Boolean), '', where);
        checked++;
      } else if (type === 'application/x-ndjson') {
        for (const line of e.text.split('\n').filter(Boolean))
          walk(JSON.parse(line), [content[type]!['x-item-schema'] as Schema], '', where);
      }
    }
    expect(checked).to.be.greaterThan(50);
    expect(offenders, offenders.join('\n')).to.deep.equal([]);
  });
});
