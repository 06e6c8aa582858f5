import path from 'node:path';
import { expect } from 'chai';
import { loadCampaignSet, requireCampaign } from '../../src/campaigns/load.ts';
import { ManualClock } from '../../src/clock.ts';
import type { EventInput } from '../../src/leads/events.ts';
import { claimDueMessages } from '../../src/messages/claim.ts';
import { advanceDueSteps } from '../../src/sequences/advance.ts';
import { removedStepWarnings } from '../../src/sequences/deployed.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { seedLeads, type SeedLead } from '../helpers/seed.ts';

/**
 * Sequences on an injected clock: nothing sleeps; the clock moves and the periodic step advance
 * runs as the scheduler would run it.
 */
const FIXTURE = path.resolve('test/fixtures/sequences');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function lead(id: string, extra: Partial<SeedLead> = {}): SeedLead {
  return { id, email: `${id}@example.com`, first: id, locale: null, orders: 1, consent: ['grant', 'confirm'], ...extra };
}

describe('sequences', () => {
  let t: TestEngine;
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock('2026-03-02T10:00:00Z');
    t = await testEngine({ CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'), TEMPLATES_DIR: path.join(FIXTURE, 'templates') }, clock);
  });
  afterEach(() => t.close());

  async function send(lead: string, event: string, properties: Record<string, unknown> = {}, id?: string) {
    const input: EventInput = { lead, event, properties, ...(id ? { id } : {}) };
    return t.engine.ingestEvents([input]);
  }

  async function messages(campaign: string) {
    const { rows } = await t.database.pool.query<{ lead: string; step: string; status: string; reason: string | null; due: string }>(
      `SELECT l.external_id AS lead, m.step_id AS step, m.status, m.reason, to_char(m.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"') AS due
         FROM messages m JOIN leads l ON l.id = m.lead_id WHERE m.campaign_id = $1 ORDER BY m.due_at, m.id`,
      [campaign],
    );
    return rows;
  }

  async function enrollment(campaign: string, leadId: string) {
    const { rows } = await t.database.pool.query(
      `SELECT e.status, e.current_step, e.exit_reason FROM enrollments e JOIN leads l ON l.id = e.lead_id
        WHERE e.campaign_id = $1 AND l.external_id = $2 ORDER BY e.id DESC LIMIT 1`,
      [campaign, leadId],
    );
    return rows[0];
  }

  async function at(iso: string) {
    clock.set(iso);
    return t.engine.advanceSequences();
  }

  it('sends each step of a three-step sequence at its instant', async () => {
    await seedLeads(t.database, [lead('ana', { tags: [] })]);
    const result = await send('ana', 'signed_up', { plan: 'pro' });
    expect(result).to.include({ recorded: 1, enrolled: 1, queued: 1 });
    await at('2026-03-04T09:59:59Z');
    await at('2026-03-04T10:00:00Z');
    await at('2026-03-07T09:59:00Z');
    await at('2026-03-07T10:00:00Z');
    expect(await messages('welcome')).to.deep.equal([
      { lead: 'ana', step: 'hello', status: 'queued', reason: null, due: '2026-03-02T10:00Z' },
      { lead: 'ana', step: 'tips', status: 'queued', reason: null, due: '2026-03-04T10:00Z' },
      { lead: 'ana', step: 'offer', status: 'queued', reason: null, due: '2026-03-07T10:00Z' },
    ]);
    expect(await enrollment('welcome', 'ana')).to.deep.equal({ status: 'completed', current_step: null, exit_reason: null });
  });

  it('enrolls only when the trigger filter matches', async () => {
    await seedLeads(t.database, [lead('bo')]);
    expect(await send('bo', 'signed_up', { plan: 'free' })).to.include({ recorded: 1, enrolled: 0 });
  });

  it('ends an event sequence at its goal, and at an exit_on event', async () => {
    await seedLeads(t.database, [lead('gus'), lead('eve')]);
    await send('gus', 'signed_up', { plan: 'pro' });
    await send('eve', 'signed_up', { plan: 'pro' });
    clock.advance(HOUR);
    expect(await send('gus', 'order_placed')).to.include({ converted: 1 });
    expect(await send('eve', 'account_closed')).to.include({ exited: 1 });
    await at('2026-03-10T00:00:00Z');
    expect((await messages('welcome')).map((m) => `${m.lead}/${m.step}`)).to.deep.equal(['gus/hello', 'eve/hello']);
    expect(await enrollment('welcome', 'gus')).to.include({ status: 'exited', exit_reason: 'goal' });
    expect(await enrollment('welcome', 'eve')).to.include({ status: 'exited', exit_reason: 'exit_on:account_closed' });
  });

  it('skips a lead campaign step marked unless: [goal] once the lead converted', async () => {
    await seedLeads(t.database, [lead('nia', { tags: ['nurture'] })]);
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'nurture'), set, { occurrence: 'n1', trigger: 'manual' });
    clock.advance(HOUR);
    await send('nia', 'order_placed');
    await at('2026-03-03T10:00:00Z');
    expect((await messages('nurture')).map((m) => [m.step, m.status, m.reason])).to.deep.equal([
      ['first', 'queued', null],
      ['second', 'suppressed', 'goal'],
    ]);
  });

  it('stops later steps with reason withdrawn when consent is withdrawn between steps', async () => {
    await seedLeads(t.database, [lead('wil', { tags: ['nurture'] })]);
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'nurture'), set, { occurrence: 'n1', trigger: 'manual' });
    await seedLeads(t.database, [lead('wil', { tags: ['nurture'], consent: ['withdraw'] })]);
    await at('2026-03-03T10:00:00Z');
    // The withdrawal stops the first step's message too: it was queued, never started.
    expect((await messages('nurture')).map((m) => [m.step, m.status, m.reason])).to.deep.equal([
      ['first', 'suppressed', 'withdrawn'],
      ['second', 'suppressed', 'withdrawn'],
    ]);
    expect(await enrollment('nurture', 'wil')).to.include({ status: 'exited', exit_reason: 'withdrawn' });
  });

  it('holds to the re-entry rules: never, always, and after a duration', async () => {
    await seedLeads(t.database, [lead('rex')]);
    await send('rex', 'signed_up', { plan: 'pro' });
    await at('2026-04-01T00:00:00Z');
    expect(await send('rex', 'signed_up', { plan: 'pro' })).to.include({ enrolled: 0 });

    expect(await send('rex', 'visited')).to.include({ enrolled: 1 });
    expect(await send('rex', 'visited')).to.include({ enrolled: 1 });

    expect(await send('rex', 'browsed')).to.include({ enrolled: 1 });
    clock.advance(6 * DAY);
    expect(await send('rex', 'browsed')).to.include({ enrolled: 0 });
    clock.advance(DAY);
    expect(await send('rex', 'browsed')).to.include({ enrolled: 1 });
  });

  it('records an event id once: the same id again changes nothing', async () => {
    await seedLeads(t.database, [lead('ida')]);
    expect(await send('ida', 'signed_up', { plan: 'pro' }, 'evt-1')).to.include({ recorded: 1, queued: 1 });
    expect(await send('ida', 'signed_up', { plan: 'pro' }, 'evt-1')).to.include({ recorded: 0, duplicates: 1, queued: 0 });
  });

  it('creates an unknown lead from an event carrying an email, and refuses one without', async () => {
    const created = await t.engine.ingestEvents([{ lead: 'new-1', event: 'visited', properties: {}, email: 'new-1@example.com' }]);
    expect(created).to.include({ recorded: 1, enrolled: 1 });
    const refused = await t.engine.ingestEvents([{ lead: 'ghost', event: 'visited', properties: {} }]);
    expect(refused.rejected).to.deep.equal([
      { index: 0, reason: "unknown lead 'ghost', and the event carries no email or phone to create it" },
    ]);
  });

  it('keeps enrollments on their step ids when the file changes, ending those on a removed step', async () => {
    await seedLeads(t.database, [lead('early'), lead('late')]);
    await send('early', 'signed_up', { plan: 'pro' });
    await at('2026-03-04T10:00:00Z');
    await send('late', 'signed_up', { plan: 'pro' });
    expect(await enrollment('welcome', 'early')).to.include({ current_step: 'offer' });
    expect(await enrollment('welcome', 'late')).to.include({ current_step: 'tips' });

    const edited = loadCampaignSet({
      campaignsDir: path.resolve('test/fixtures/sequences-edited/campaigns'),
      templatesDir: t.config.templatesDir,
    });
    const warnings = await removedStepWarnings(t.database.pool, edited);
    expect(warnings.map((w) => `${w.severity} ${w.line}:${w.col} ${w.message}`)).to.deep.equal([
      "warning 8:1 step 'tips' is gone from this file, but 1 active enrollment(s) wait on it; they would end with reason step_removed",
    ]);

    clock.set('2026-03-08T00:00:00Z');
    await advanceDueSteps(t.database.pool, t.engine.stepContext(edited), 100);
    expect(await enrollment('welcome', 'early')).to.include({ status: 'completed' });
    expect(await enrollment('welcome', 'late')).to.include({ status: 'exited', exit_reason: 'step_removed' });
    expect((await messages('welcome')).map((m) => `${m.lead}/${m.step}`)).to.deep.equal([
      'early/hello',
      'early/tips',
      'late/hello',
      'early/offer',
    ]);
  });

  describe('send windows in the recipient timezone', () => {
    async function runAt(instant: string, zone: string, id: string) {
      clock.set(instant);
      await seedLeads(t.database, [lead(id, { tags: ['windowed'], timezone: zone })]);
      const set = t.engine.loadCampaigns();
      await t.engine.run(requireCampaign(set, 'windowed'), set, { occurrence: id, trigger: 'manual' });
      const row = (await messages('windowed')).find((m) => m.lead === id)!;
      return row.due;
    }

    it('moves 03:00 local to 09:00 local, before and after the spring DST switch', async () => {
      // Europe/Berlin switches to summer time on 2026-03-29; America/New_York on 2026-03-08.
      expect(await runAt('2026-03-28T02:00:00Z', 'Europe/Berlin', 'berlin-winter')).to.equal('2026-03-28T08:00Z');
      expect(await runAt('2026-03-29T01:00:00Z', 'Europe/Berlin', 'berlin-summer')).to.equal('2026-03-29T07:00Z');
      expect(await runAt('2026-03-07T08:00:00Z', 'America/New_York', 'ny-winter')).to.equal('2026-03-07T14:00Z');
      expect(await runAt('2026-03-08T07:00:00Z', 'America/New_York', 'ny-summer')).to.equal('2026-03-08T13:00Z');
    });

    it('carries a message due after closing to the next morning across the switch, in spring and autumn', async () => {
      // 21:00 on the eve of the switch, and 09:00 local the morning after (other offset).
      expect(await runAt('2026-03-28T20:00:00Z', 'Europe/Berlin', 'berlin-eve')).to.equal('2026-03-29T07:00Z');
      expect(await runAt('2026-10-24T19:00:00Z', 'Europe/Berlin', 'berlin-autumn')).to.equal('2026-10-25T08:00Z');
      expect(await runAt('2026-11-01T01:00:00Z', 'America/New_York', 'ny-autumn')).to.equal('2026-11-01T14:00Z');
    });

    it('sends at once inside the window and falls back to the campaign timezone', async () => {
      expect(await runAt('2026-06-01T12:00:00Z', 'Europe/Berlin', 'inside')).to.equal('2026-06-01T12:00Z');
      clock.set('2026-06-01T05:00:00Z');
      await seedLeads(t.database, [lead('no-zone', { tags: ['windowed'] })]);
      const set = t.engine.loadCampaigns();
      await t.engine.run(requireCampaign(set, 'windowed'), set, { occurrence: 'no-zone', trigger: 'manual' });
      expect((await messages('windowed')).find((m) => m.lead === 'no-zone')!.due).to.equal('2026-06-01T07:00Z');
    });

    it('keeps a windowed message from being claimed before its opening', async () => {
      expect(await runAt('2026-03-28T02:00:00Z', 'Europe/Berlin', 'early')).to.equal('2026-03-28T08:00Z');
      expect(await claimDueMessages(t.database.pool, 1, 10, new Date('2026-03-28T07:59:59Z'))).to.have.length(0);
      expect(await claimDueMessages(t.database.pool, 1, 10, new Date('2026-03-28T08:00:00Z'))).to.have.length(1);
    });

    it('shows the local send time in the plan', async () => {
      clock.set('2026-03-28T02:00:00Z');
      await seedLeads(t.database, [lead('planned', { tags: ['windowed'], timezone: 'America/New_York' })]);
      const set = t.engine.loadCampaigns();
      const plan = await t.engine.plan(requireCampaign(set, 'windowed'), set);
      expect(plan.recipients.map((r) => r.send_at)).to.deep.equal(['2026-03-28T09:00:00-04:00']);
    });
  });

  describe('frequency cap across campaigns', () => {
    beforeEach(async () => {
      await seedLeads(t.database, [lead('cap', { tags: ['capped'] })]);
      const set = t.engine.loadCampaigns();
      await t.engine.run(requireCampaign(set, 'capped-first'), set, { occurrence: 'o', trigger: 'manual' });
    });

    it('defers or skips as the campaign says, and plan reports it', async () => {
      const set = t.engine.loadCampaigns();
      const deferredPlan = await t.engine.plan(requireCampaign(set, 'capped-defer'), set);
      expect(deferredPlan.recipients.map((r) => r.send_at)).to.deep.equal(['2026-03-03T10:00:00Z']);
      const skippedPlan = await t.engine.plan(requireCampaign(set, 'capped-skip'), set);
      expect(skippedPlan.suppressed).to.deep.equal([{ lead: 'cap', step: 'only', reason: 'frequency_cap' }]);

      await t.engine.run(requireCampaign(set, 'capped-defer'), set, { occurrence: 'o', trigger: 'manual' });
      await t.engine.run(requireCampaign(set, 'capped-skip'), set, { occurrence: 'o', trigger: 'manual' });
      expect(await messages('capped-defer')).to.deep.equal([
        { lead: 'cap', step: 'only', status: 'queued', reason: null, due: '2026-03-03T10:00Z' },
      ]);
      expect(await messages('capped-skip')).to.deep.equal([
        { lead: 'cap', step: 'only', status: 'suppressed', reason: 'frequency_cap', due: '2026-03-02T10:00Z' },
      ]);
    });
  });
});
