import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { saveUser } from '../../src/access/users.ts';
import { apiKeyFor } from '../helpers/keys.ts';
import { logIn } from '../helpers/login.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { seedLeads } from '../helpers/seed.ts';
import { startWeb, type TestWeb } from '../helpers/web.ts';

const exec = promisify(execFile);
const PASSWORD = 'correct horse battery';
const DAY = 86_400_000;

/**
 * Issue 11, item 4: a marketer dated a grant two years back through the API, and the as-of check
 * for that past instant then answered "allowed". The API now records decisions only as they are
 * made; history comes in by import, and any answer resting on an event recorded after the instant
 * asked about says "recorded later", in the API, the CLI, the proofs and the audit pages.
 */
describe('security: backdated consent', function () {
  this.timeout(30_000);
  let t: TestEngine;
  let web: TestWeb;
  let dir: string;
  const keys: Record<string, string> = {};

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backdated-'));
    web = await startWeb();
    t = await testEngine({ PUBLIC_URL: web.base });
    web.serve(t.engine);
    for (const role of ['marketer', 'compliance'] as const) keys[role] = await apiKeyFor(t.database, role);
    await saveUser(t.database.pool, { email: 'carl@example.com', role: 'compliance', password: PASSWORD });
    await seedLeads(t.database, [{ id: 'vic', email: null, phone: '+4915112345678', first: 'Vic', locale: null, orders: 1, consent: [] }]);
  });
  afterEach(async () => {
    await web.close();
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const api = (method: string, p: string, key: string, body?: unknown) =>
    fetch(web.base + p, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const grant = (occurredAt: Date) =>
    api('POST', '/api/v1/consents', keys.marketer!, {
      lead: 'vic',
      channel: 'sms',
      purpose: 'marketing',
      action: 'grant',
      source: 'signup-form',
      occurred_at: occurredAt.toISOString(),
    });
  const check = async (at: Date) =>
    (await (
      await api('GET', `/api/v1/consents/check?lead=vic&channel=sms&purpose=marketing&at=${at.toISOString()}`, keys.compliance!)
    ).json()) as {
      allowed: boolean;
      reason?: string;
      recorded_later: boolean;
      deciding_event: { id: number; source: string; recorded_at: string } | null;
    };
  const ledgerSize = async () => (await t.database.pool.query(`SELECT count(*)::int AS n FROM consent_events`)).rows[0].n as number;

  it('refuses a grant dated two years back, pointing at imports; nothing is recorded and the past stays "not allowed"', async () => {
    const twoYearsAgo = new Date(Date.now() - 730 * DAY);
    const res = await grant(twoYearsAgo);
    expect(res.status).to.equal(400);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).to.equal('invalid_input');
    expect(body.message).to.contain('more than 10 minutes before now').and.contain('consent import').and.contain('file and row');
    expect(await ledgerSize()).to.equal(0);
    expect(await check(new Date(twoYearsAgo.getTime() + DAY))).to.deep.include({
      allowed: false,
      reason: 'no_consent',
      deciding_event: null,
    });

    // The tolerance: eleven minutes back and two minutes ahead are refused, five minutes back is a form that took a moment.
    expect((await grant(new Date(Date.now() - 11 * 60_000))).status).to.equal(400);
    expect((await grant(new Date(Date.now() + 2 * 60_000))).status).to.equal(400);
    expect((await grant(new Date(Date.now() - 5 * 60_000))).status).to.equal(201);
    expect(await check(new Date())).to.deep.include({ allowed: true, recorded_later: false });
  });

  it('marks an answer that rests on history imported later as "recorded later", in the API, the CLI, proofs and the audit page', async () => {
    const happened = new Date(Date.now() - 730 * DAY);
    const between = new Date(Date.now() - 365 * DAY);
    const file = path.join(dir, 'history.csv');
    fs.writeFileSync(
      file,
      `external_id,channel,purpose,action,occurred_at,source,form\nvic,sms,marketing,grant,${happened.toISOString()},signup-form,footer\n`,
    );
    expect(await t.engine.consent.import(file)).to.deep.include({ imported: 1 });

    const answer = await check(between);
    expect(answer).to.deep.include({ allowed: true, recorded_later: true });
    expect(new Date(answer.deciding_event!.recorded_at).getTime()).to.be.greaterThan(between.getTime());
    // After it was recorded, the same event no longer counts as "recorded later".
    expect(await check(new Date(Date.now() + 1_000))).to.deep.include({ allowed: true, recorded_later: false });

    const { stdout } = await exec(
      process.execPath,
      [
        'bin/touchpoint.js',
        'consent',
        'check',
        '--lead',
        'vic',
        '--channel',
        'sms',
        '--purpose',
        'marketing',
        '--at',
        between.toISOString(),
      ],
      { env: { ...process.env, ...t.env, LOG_LEVEL: 'error' } },
    );
    expect(stdout).to.match(
      /^allowed \(granted\)\ndeciding event: #\d+ grant .* via signup-form by import\nrecorded later: on \S+, after this instant/,
    );

    const proof = (await (await api('GET', '/api/v1/consents/proof?lead=vic', keys.compliance!)).json()) as {
      consent_events: { recorded_later: boolean; evidence: Record<string, unknown> }[];
    };
    expect(proof.consent_events).to.have.length(1);
    expect(proof.consent_events[0]).to.deep.include({ recorded_later: true });
    expect(proof.consent_events[0]!.evidence).to.include({ file: 'history.csv', row: 2 });
    const csv = (await (await api('GET', '/api/v1/consents/proof?lead=vic&format=csv', keys.compliance!)).text()).trim().split('\n');
    expect(csv[0]).to.match(/,recorded_later$/);
    expect(csv[1]).to.match(/,recorded later$/);

    const carl = await logIn(web.base, 'carl@example.com', PASSWORD);
    const page = await (
      await carl.page(`/audit/leads/vic?channel=sms&purpose=marketing&at=${encodeURIComponent(between.toISOString())}`)
    ).text();
    expect(page).to.match(
      /<p id="answer" class="ok">Allowed \(granted\).*<span class="pill bad" id="recorded-later">recorded later<\/span>/,
    );
    expect(page).to.match(/<tr data-event="\d+">.*data-recorded-later>recorded later<\/span>/);
  });
});
