import { expect } from 'chai';
import { saveUser } from '../../src/access/users.ts';
import { CHANNELS } from '../../src/channels/channel.ts';
import { appendConsentEvents, type ConsentEventInput } from '../../src/consent/ledger.ts';
import { LEGACY_CONFIRMED } from '../../src/consent/state.ts';
import { withTransaction } from '../../src/db/tx.ts';
import { saveLeads } from '../../src/leads/store.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { contactLead } from '../helpers/seed.ts';
import { logIn, startWeb, type TestWeb } from '../helpers/web.ts';

const PASSWORD = 'correct horse battery';
type Step = [channel: 'email' | 'sms', purpose: string, action: 'grant' | 'confirm' | 'withdraw', source?: string];

/** Each person's consent history, a minute apart, ending before now. */
const HISTORIES: Record<string, Step[]> = {
  mixed: [
    ['email', 'marketing', 'grant'],
    ['email', 'marketing', 'confirm'],
    ['sms', 'marketing', 'grant'],
    ['sms', 'marketing', 'withdraw'],
    ['email', 'newsletter', 'grant'],
  ],
  unconfirmed: [['email', 'marketing', 'grant']],
  legacy: [['email', 'marketing', 'grant', LEGACY_CONFIRMED]],
  regranted: [
    ['sms', 'marketing', 'grant'],
    ['sms', 'marketing', 'withdraw'],
    ['sms', 'marketing', 'grant'],
  ],
  nothing: [],
};

/**
 * Issue 17, search and status: the audit finds a person by a part of their name, email, phone or
 * external id, a page at a time; a person's current status (every purpose × channel) agrees with
 * the as-of check `consent check` answers.
 */
describe('audit: finding anyone, and where they stand now', function () {
  this.timeout(60_000);
  let t: TestEngine;
  let web: TestWeb;
  const ids = new Map<string, number>();

  before(async () => {
    web = await startWeb();
    t = await testEngine({ PUBLIC_URL: web.base });
    web.serve(t.engine);
    await saveUser(t.database.pool, { email: 'carl@example.com', name: 'Carl', role: 'compliance', password: PASSWORD });
    const person = (externalId: string, firstName: string, lastName: string, email: string, phone: string | null = null) => ({
      ...contactLead(externalId, email, phone),
      firstName,
      lastName,
    });
    const saved = await saveLeads(t.database.pool, [
      person('crm-4711', 'Greta', 'Schmidt', 'g.schmidt@example.org', '+493012345678'),
      person('crm-4712', 'Hans', 'Weber', 'hans@example.com'),
      ...Object.keys(HISTORIES).map((id) => person(id, id, 'Status', `${id}@example.com`)),
      ...Array.from({ length: 30 }, (_, i) => person(`pager-${String(i).padStart(2, '0')}`, 'Paula', `Pager${i}`, `p${i}@example.com`)),
    ]);
    for (const r of saved) ids.set(r.externalId, r.id);
    const start = Date.now() - 3_600_000;
    const events: ConsentEventInput[] = Object.entries(HISTORIES).flatMap(([id, steps]) =>
      steps.map(([channel, purpose, action, source], i) => ({
        leadId: ids.get(id)!,
        channel,
        purpose,
        action,
        source: source ?? 'test',
        actor: 'test',
        occurredAt: new Date(start + i * 60_000),
      })),
    );
    await withTransaction(t.database.pool, (client) => appendConsentEvents(client, events));
  });
  after(async () => {
    await web.close();
    await t.close();
  });

  it('finds a person by a part of their name, email, phone or external id', async () => {
    const found = async (q: string) => (await t.engine.leads.search(q)).map((l) => l.external_id);
    expect(await found('chmid')).to.deep.equal(['crm-4711']);
    expect(await found('SCHMIDT')).to.deep.equal(['crm-4711']);
    expect(await found('greta schm')).to.deep.equal(['crm-4711']);
    expect(await found('@example.org')).to.deep.equal(['crm-4711']);
    expect(await found('12345678')).to.deep.equal(['crm-4711']);
    expect(await found('471')).to.deep.equal(['crm-4711', 'crm-4712']);
    expect(await found('50%')).to.deep.equal([]);
  });

  it('pages the audit search, 25 at a time', async () => {
    const carl = await logIn(web.base, 'carl@example.com', PASSWORD);
    const get = async (url: string) => (await fetch(`${web.base}${url}`, { headers: { cookie: carl.cookie } })).text();
    const rows = (html: string) => [...html.matchAll(/data-lead="([^"]+)"/g)].map((m) => m[1]);
    const first = await get('/audit?q=pager');
    expect(rows(first)).to.have.length(25);
    expect(first)
      .to.contain('Paula Pager0')
      .and.match(/href="\/audit\?q[^"]*pager[^"]*page[^"]*2" rel="next"/)
      .and.not.contain('rel="prev"');
    const second = await get('/audit?q=pager&page=2');
    expect(rows(second)).to.deep.equal(['pager-25', 'pager-26', 'pager-27', 'pager-28', 'pager-29']);
    expect(second).to.contain('rel="prev"').and.not.contain('rel="next"');
    expect(rows(await get('/audit?q=chmidt'))).to.deep.equal(['crm-4711']);
  });

  it('shows every purpose × channel now, agreeing with the as-of check for each', async () => {
    const now = t.engine.clock.now();
    let compared = 0;
    for (const id of Object.keys(HISTORIES)) {
      const leadId = ids.get(id)!;
      const current = await t.engine.consent.current(leadId);
      const purposes = [...new Set(current.map((c) => c.purpose))];
      expect(purposes, id).to.include('marketing');
      if (id === 'mixed') expect(purposes).to.include('newsletter');
      expect(current, id).to.have.length(purposes.length * CHANNELS.length);
      for (const row of current) {
        const checked = await t.engine.consent.asOf(leadId, row.channel, row.purpose, now);
        const where = `${id} ${row.channel}/${row.purpose}`;
        expect(row.allowed, where).to.equal(checked.allowed);
        expect(row.status, where).to.equal(checked.status);
        expect(row.reason, where).to.equal(checked.reason);
        expect(row.deciding_event?.id ?? null, where).to.equal(checked.deciding_event?.id ?? null);
        compared++;
      }
    }
    expect(compared).to.be.greaterThan(10);
    const mixed = await t.engine.consent.current(ids.get('mixed')!);
    const at = (channel: string, purpose: string) => mixed.find((c) => c.channel === channel && c.purpose === purpose)!;
    expect(at('email', 'marketing')).to.include({ allowed: true, status: 'confirmed' });
    expect(at('sms', 'marketing')).to.include({ allowed: false, reason: 'withdrawn' });
    expect(at('email', 'newsletter')).to.include({ allowed: true, status: 'granted' });
    expect(at('sms', 'newsletter')).to.include({ allowed: false, reason: 'no_consent', deciding_event: null });

    const carl = await logIn(web.base, 'carl@example.com', PASSWORD);
    const page = await (await fetch(`${web.base}/audit/leads/mixed`, { headers: { cookie: carl.cookie } })).text();
    expect(page).to.match(/data-purpose="marketing" data-channel="email" data-allowed="yes"/);
    expect(page).to.match(
      /data-purpose="marketing" data-channel="sms" data-allowed="no"><td>marketing<\/td><td>sms<\/td><td class="bad">not allowed \(withdrawn\)/,
    );
  });

  it('counts who is allowed what now and the withdrawals per week, drawn as SVG on the overview page', async () => {
    const overview = await t.engine.consent.overview(26);
    expect(overview.allowed).to.deep.equal([
      { purpose: 'marketing', channel: 'email', allowed: 2, total: 3 },
      { purpose: 'marketing', channel: 'sms', allowed: 1, total: 2 },
      { purpose: 'newsletter', channel: 'email', allowed: 1, total: 1 },
    ]);
    expect(overview.withdrawals.reduce((sum, w) => sum + w.n, 0)).to.equal(2);
    const carl = await logIn(web.base, 'carl@example.com', PASSWORD);
    const page = await (await fetch(`${web.base}/audit/overview`, { headers: { cookie: carl.cookie } })).text();
    expect(page).to.match(/<figure class="card chart" data-chart="allowed">[\s\S]*?<svg/);
    expect(page).to.match(/<figure class="card chart" data-chart="withdrawals">[\s\S]*?<svg/);
    expect(page).to.contain(
      '<tr data-purpose="newsletter" data-channel="email"><td>newsletter</td><td>email</td><td>1</td><td>1</td></tr>',
    );
  });
});
