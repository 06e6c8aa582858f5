import { expect } from 'chai';
import { loadCampaignSet, requireCampaign } from '../../src/campaigns/load.ts';
import { settled, testEngine, type TestEngine } from '../helpers/engine.ts';
import { seedLeads, type SeedLead } from '../helpers/seed.ts';
import { recipient, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

/**
 * The whole path for a lead campaign: YAML, plan, run, dispatch over real SMTP. The leads cover
 * every persona/locale variant and every suppression reason.
 */
const LEADS: SeedLead[] = [
  { id: 'vip-de', email: 'vip-de@example.com', first: 'Vera', locale: 'de-DE', orders: 12, consent: ['grant', 'confirm'] },
  { id: 'vip-en', email: 'vip-en@example.com', first: 'Victor', locale: 'en-US', orders: 15, consent: ['grant', 'confirm'] },
  { id: 'reg-de', email: 'reg-de@example.com', first: 'Rita', locale: 'de-AT', orders: 1, consent: ['grant', 'confirm'] },
  { id: 'reg-fr', email: 'reg-fr@example.com', first: 'René', locale: 'fr-FR', orders: 2, consent: ['grant', 'confirm'] },
  { id: 'legacy', email: 'legacy@example.com', first: 'Lea', locale: null, orders: 3, consent: ['legacy'] },
  { id: 'unconfirmed', email: 'unconfirmed@example.com', first: 'Uma', locale: null, orders: 3, consent: ['grant'] },
  { id: 'withdrawn', email: 'withdrawn@example.com', first: 'Wim', locale: null, orders: 3, consent: ['grant', 'confirm', 'withdraw'] },
  { id: 'never', email: 'never@example.com', first: 'Nora', locale: null, orders: 3, consent: [] },
  { id: 'no-email', email: null, phone: '+4915112345678', first: 'Nils', locale: null, orders: 3, consent: ['grant', 'confirm'] },
  {
    id: 'prospect',
    email: 'prospect@example.com',
    first: 'Paul',
    locale: null,
    orders: 0,
    consent: ['grant', 'confirm'],
    tags: ['prospect'],
  },
];

describe('a lead campaign from YAML to inbox', function () {
  this.timeout(60_000);
  let sink: SmtpSink;
  let t: TestEngine;

  beforeEach(async () => {
    sink = await startSmtpSink();
    t = await testEngine({ SMTP_URL: sink.url });
    await seedLeads(t.database, LEADS);
  });
  afterEach(async () => {
    await t.close();
    await sink.close();
  });

  async function runAndDeliver(occurrence = 'manual') {
    const set = t.engine.loadCampaigns();
    const result = await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence, trigger: 'manual' });
    return result;
  }

  it('plans recipients with persona and locale variant, and suppressions with their reasons', async () => {
    const set = loadCampaignSet({ campaignsDir: t.config.campaignsDir, templatesDir: t.config.templatesDir });
    const plan = await t.engine.plan(requireCampaign(set, 'spring'), set);
    expect(plan.campaign).to.equal('spring');
    // No send window: everyone's local send time is now.
    expect(plan.recipients.every((r) => r.send_at.endsWith('Z'))).to.equal(true);
    expect(plan.recipients.map(({ send_at: _, ...r }) => r)).to.deep.equal([
      { lead: 'vip-de', step: 'offer', channel: 'email', persona: 'vip', template: 'spring-offer/vip.de.email.hbs' },
      { lead: 'vip-en', step: 'offer', channel: 'email', persona: 'vip', template: 'spring-offer/vip.email.hbs' },
      { lead: 'reg-de', step: 'offer', channel: 'email', persona: 'regular', template: 'spring-offer/default.de.email.hbs' },
      { lead: 'reg-fr', step: 'offer', channel: 'email', persona: 'regular', template: 'spring-offer/default.email.hbs' },
      { lead: 'legacy', step: 'offer', channel: 'email', persona: 'regular', template: 'spring-offer/default.email.hbs' },
    ]);
    expect(plan.suppressed).to.deep.equal([
      { lead: 'unconfirmed', step: 'offer', reason: 'unconfirmed' },
      { lead: 'withdrawn', step: 'offer', reason: 'withdrawn' },
      { lead: 'never', step: 'offer', reason: 'no_consent' },
      { lead: 'no-email', step: 'offer', reason: 'no_address' },
    ]);
  });

  it('sends only to confirmed consents, each lead its own variant, and records the allowing consent event', async () => {
    await t.engine.startDispatcher();
    const { counts } = await runAndDeliver();
    expect(counts).to.include({ audience: 9, queued: 5, suppressed: 4, failed: 0 });
    const summary = await settled(t, 'spring', 'manual');
    expect(summary).to.include({ sent: 5, failed: 0, suppressed: 4, possibleDuplicates: 0 });
    await sink.waitFor(5);

    const subjects = Object.fromEntries(sink.messages.map((m) => [recipient(m), m.subject]));
    expect(subjects).to.deep.equal({
      'vip-de@example.com': '[vip.de] Dear Vera',
      'vip-en@example.com': '[vip] Dear Victor',
      'reg-de@example.com': '[default.de] Hi Rita',
      'reg-fr@example.com': '[default] Hi René',
      'legacy@example.com': '[default] Hi Lea',
    });
    const withUnsubscribe = sink.messages.filter((m) => /touchpoint\.test\/unsubscribe\//.test(m.html || ''));
    expect(withUnsubscribe).to.have.length(5);

    const { rows } = await t.database.pool.query(
      `SELECT l.external_id, e.action, e.source
         FROM messages m JOIN leads l ON l.id = m.lead_id JOIN consent_events e ON e.id = m.consent_event_id
        WHERE m.status = 'sent' ORDER BY l.external_id`,
    );
    expect(rows).to.deep.equal([
      { external_id: 'legacy', action: 'grant', source: 'legacy-confirmed' },
      { external_id: 'reg-de', action: 'confirm', source: 'test' },
      { external_id: 'reg-fr', action: 'confirm', source: 'test' },
      { external_id: 'vip-de', action: 'confirm', source: 'test' },
      { external_id: 'vip-en', action: 'confirm', source: 'test' },
    ]);
  });

  it('running the campaign twice, or twice at once, sends each message once', async () => {
    await t.engine.startDispatcher();
    await runAndDeliver();
    await settled(t, 'spring', 'manual');
    const again = await runAndDeliver();
    expect(again.counts).to.include({ enrolled: 0, queued: 0, suppressed: 0, existing: 9 });

    const [a, b] = await Promise.all([runAndDeliver('second'), runAndDeliver('second')]);
    expect(a.counts.queued + b.counts.queued).to.equal(5);
    await settled(t, 'spring', 'second');
    await sink.waitFor(10);
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.messages).to.have.length(10);
    const perLead = new Map<string, number>();
    for (const m of sink.messages) perLead.set(recipient(m), (perLead.get(recipient(m)) ?? 0) + 1);
    expect([...perLead.values()]).to.deep.equal([2, 2, 2, 2, 2]);
  });

  it('a missing template variable fails that message with the reason recorded', async () => {
    const set = t.engine.loadCampaigns();
    const { counts } = await t.engine.run(requireCampaign(set, 'broken-render'), set, { occurrence: 'x', trigger: 'manual' });
    expect(counts.failed).to.equal(5);
    const { rows } = await t.database.pool.query(
      `SELECT DISTINCT reason, last_error FROM messages WHERE campaign_id = 'broken-render' AND status = 'failed'`,
    );
    expect(rows).to.have.length(1);
    expect(rows[0].reason).to.equal('render_error');
    expect(rows[0].last_error).to.contain('coupon_code');
  });

  it('a consent withdrawn after the run but before the claim stops that message', async () => {
    await runAndDeliver();
    await seedLeads(t.database, [{ ...LEADS[0]!, consent: ['withdraw'] }]);
    await t.engine.startDispatcher();
    const summary = await settled(t, 'spring', 'manual');
    expect(summary).to.include({ sent: 4, suppressed: 5 });
    expect(sink.messages.map(recipient)).not.to.include('vip-de@example.com');
  });
});
