import { expect } from 'chai';
import { saveLeads } from '../../src/leads/store.ts';
import { leadScenario, PASSWORD, REPLY_BODY, REPLY_SUBJECT, type LeadScenario } from '../helpers/lead-history.ts';
import { logIn, type WebSession } from '../helpers/web.ts';

describe('the lead page for marketers', function () {
  this.timeout(60_000);
  let s: LeadScenario;
  let mia: WebSession;

  before(async () => {
    s = await leadScenario();
    mia = await logIn(s.web.base, 'mia@example.com', PASSWORD);
  });
  after(async () => {
    await s?.close();
  });

  const get = async (route: string) => {
    const res = await fetch(s.web.base + route, { headers: { cookie: mia.cookie } });
    return { status: res.status, html: await res.text() };
  };
  const rows = (html: string, kind: string) =>
    [...html.matchAll(new RegExp(`<tr data-kind="${kind}">([\\s\\S]*?)</tr>`, 'g'))].map((m) => m[1]!);

  it('finds a person by external id, email or name, a page at a time', async () => {
    await saveLeads(
      s.t.database.pool,
      Array.from({ length: 30 }, (_, i) => ({
        externalId: `pat-${String(i + 1).padStart(2, '0')}`,
        email: null,
        phone: null,
        firstName: 'Pat',
        lastName: `Doe ${i + 1}`,
        locale: null,
        timezone: null,
        persona: null,
        tags: [],
        attributes: {},
      })),
    );
    const found = (html: string) => [...html.matchAll(/<tr data-lead="([^"]+)">/g)].map((m) => m[1]);
    for (const q of ['anna', 'ANNA@example.com', 'Ann'])
      expect(found((await get(`/leads?q=${encodeURIComponent(q)}`)).html), q).to.deep.equal(['anna']);

    const first = await get('/leads?q=pat');
    expect(found(first.html)).to.have.length(25);
    expect(found(first.html)[0]).to.equal('pat-01');
    expect(first.html).to.contain('rel="next"').and.not.contain('rel="prev"');
    const second = await get('/leads?q=pat&page=2');
    expect(found(second.html)).to.deep.equal(['pat-26', 'pat-27', 'pat-28', 'pat-29', 'pat-30']);
    expect(second.html).to.contain('rel="prev"').and.not.contain('rel="next"');
    expect(found((await get('/leads?q=Pat%20Doe%2030')).html)).to.deep.equal(['pat-30']);
  });

  it('shows one history across channels: the event, the message with the consent that allowed it, consent changes, and that the person replied', async () => {
    const { status, html } = await get('/leads/anna');
    expect(status).to.equal(200);
    expect(html).to.contain('<h1>Anna <span class="muted">anna</span></h1>');

    const { rows: sent } = await s.t.database.pool.query(
      `SELECT m.consent_event_id AS id, e.action FROM messages m JOIN consent_events e ON e.id = m.consent_event_id
        JOIN leads l ON l.id = m.lead_id WHERE l.external_id = 'anna' AND m.campaign_id = 'spring'`,
    );
    expect(sent).to.have.length(1);
    const [message] = rows(html, 'message');
    expect(message).to.contain('spring/offer').and.contain('email').and.contain('sent');
    expect(message).to.contain(`<span data-consent-event="${sent[0].id}">#${sent[0].id} ${sent[0].action}</span>`);

    const consent = rows(html, 'consent');
    // Newest first: the withdrawal after the reply, then the confirmation and the grant.
    expect(consent.map((r) => /Consent <strong>(\w+)<\/strong>/.exec(r)?.[1])).to.deep.equal(['withdraw', 'confirm', 'grant']);
    expect(consent[0]).to.contain('email / marketing · preference-center');
    // Their reply is an event too now (contact_received, newest first), beside the order they placed.
    const events = rows(html, 'event');
    expect(events[0]).to.contain('contact_received');
    expect(events.find((r) => r.includes('order_placed'))).to.contain('plan: pro');

    const [reply] = rows(html, 'reply');
    expect(reply).to.contain('Replied');
    const { rows: contacts } = await s.t.database.pool.query(`SELECT category FROM inbound_contacts`);
    expect(reply).to.contain(contacts[0].category);
    expect(html).to.match(/<p id="replied" data-replied="yes">Replied: <strong>yes<\/strong>, 1 time\(s\), last on [^(]+\(\w[\w-]*\)<\/p>/);

    // What Anna wrote is nowhere on the page, not its subject, not a word of its body.
    for (const secret of [REPLY_BODY, REPLY_SUBJECT, 'husband', '1234567', 'Subject only']) expect(html, secret).not.to.contain(secret);

    expect((await get('/leads/ben')).html).to.contain('data-replied="no">Replied: no</p>');
  });

  it('answers 404 for a lead that does not exist', async () => {
    const { status, html } = await get('/leads/nobody');
    expect(status).to.equal(404);
    expect(html).to.contain('no lead');
  });

  it('shows an erased person as erased, with none of their personal data', async () => {
    await s.t.engine.leads.erase('ben');
    const search = await get('/leads?q=ben%40example.com');
    const id = /<tr data-lead="(erased-\d+)">/.exec(search.html)?.[1];
    expect(id, 'found by the address they had').to.be.a('string');
    expect(search.html).to.contain('data-erased').and.not.contain('ben@example.com</td>');
    const { status, html } = await get(`/leads/${id}`);
    expect(status).to.equal(200);
    expect(html).to.contain('<span class="pill" id="erased">erased</span>');
    expect(html).not.to.contain('Ben');
    expect(html).not.to.contain('ben@example.com');
    expect(rows(html, 'message')[0]).to.contain('spring/offer');
  });
});
