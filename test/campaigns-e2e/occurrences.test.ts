import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { ManualClock } from '../../src/clock.ts';
import { E2E_FIXTURE, testEngine, until, type TestEngine } from '../helpers/engine.ts';
import { apiKeyFor } from '../helpers/keys.ts';
import { api } from '../helpers/observed.ts';
import { startWeb, type TestWeb } from '../helpers/web.ts';
import { confirmedLeads, seedLeads } from '../helpers/seed.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const exec = promisify(execFile);
const FIXTURE = {
  CAMPAIGNS_DIR: 'test/fixtures/occurrences/campaigns',
  TEMPLATES_DIR: path.join(E2E_FIXTURE, 'templates'),
};

async function messages(t: TestEngine, campaign: string): Promise<{ lead: string; occurrence: string }[]> {
  const { rows } = await t.database.pool.query(
    `SELECT l.external_id AS lead, m.occurrence FROM messages m JOIN leads l ON l.id = m.lead_id
      WHERE m.campaign_id = $1 ORDER BY m.id`,
    [campaign],
  );
  return rows;
}

describe('occurrences: a step reaches a lead once per occurrence, however the run is started', function () {
  this.timeout(90_000);
  let t: TestEngine;
  let sink: SmtpSink;
  let web: TestWeb;
  let key: string;

  before(async () => {
    sink = await startSmtpSink();
    t = await testEngine({ SMTP_URL: sink.url, ...FIXTURE });
    await seedLeads(t.database, confirmedLeads(2, 'occ'));
    key = await apiKeyFor(t.database, 'marketer');
    web = await startWeb();
    web.serve(t.engine);
  });
  after(async () => {
    await web.close();
    await t.close();
    await sink.close();
  });

  const cli = (args: string[]) =>
    exec(process.execPath, ['bin/touchpoint.js', ...args], { env: { ...process.env, ...t.env, LOG_LEVEL: 'error' } });
  const runByApi = async (campaign: string, body: object = {}) => {
    const res = await api(web, key, 'POST', `/campaigns/${campaign}/runs`, body);
    expect(res.status).to.equal(201);
    return (await res.json()) as { occurrence: string; counts: { enrolled: number; existing: number; queued: number } };
  };

  it('a manual run after the scheduled run of a one-shot campaign sends nothing again, by CLI or API', async () => {
    await t.engine.startDispatcher();
    await t.engine.startScheduler();
    await until(async () => (sink.messages.length === 2 ? true : undefined));
    expect((await messages(t, 'launch')).map((m) => m.occurrence)).to.deep.equal(['once', 'once']);

    const { stderr } = await cli(['run', 'launch', '--yes']);
    expect(stderr).to.contain(`(occurrence 'once'): 2 in audience, 0 enrolled (2 already)`);
    const api = await runByApi('launch');
    expect(api).to.deep.include({ occurrence: 'once' });
    expect(api.counts).to.include({ enrolled: 0, existing: 2, queued: 0 });
    expect(await messages(t, 'launch')).to.have.length(2);
    expect(sink.messages).to.have.length(2);
  });

  it('an explicit occurrence is the deliberate way to send again (CLI and API)', async () => {
    const { stderr } = await cli(['run', 'launch', '--yes', '--occurrence', 'resend-1', '--wait']);
    expect(stderr).to.contain(`(occurrence 'resend-1'): 2 in audience, 2 enrolled (0 already)`);
    const api = await runByApi('launch', { occurrence: 'resend-2' });
    expect(api.counts).to.include({ enrolled: 2, queued: 2 });
    await until(async () => (sink.messages.length === 6 ? true : undefined));
    const occurrences = (await messages(t, 'launch')).map((m) => m.occurrence);
    expect(occurrences.filter((o) => o === 'resend-1')).to.have.length(2);
    expect(occurrences.filter((o) => o === 'resend-2')).to.have.length(2);
  });

  it('a campaign without a schedule sends once, however often it is run', async () => {
    const first = await runByApi('by-hand');
    expect(first.occurrence).to.equal('once');
    expect(first.counts).to.include({ enrolled: 2, queued: 2 });
    const { stderr } = await cli(['run', 'by-hand', '--yes']);
    expect(stderr).to.contain('0 enrolled (2 already)');
    expect(await messages(t, 'by-hand')).to.have.length(2);
  });

  it('runs recorded under the former default labels (`manual`, `at:…`) count as the one-shot occurrence', async () => {
    const set = t.engine.loadCampaigns();
    const campaign = requireCampaign(set, 'spring-sale');
    await t.engine.run(campaign, set, { occurrence: 'manual', trigger: 'manual' });
    const again = await t.engine.run(campaign, set, { trigger: 'manual' });
    expect(again.occurrence).to.equal('once');
    expect(again.counts).to.include({ enrolled: 0, existing: 2 });
    expect(await messages(t, 'spring-sale')).to.have.length(2);
  });

  it('plan names the leads a run would leave alone as already_sent', async () => {
    const set = t.engine.loadCampaigns();
    const plan = await t.engine.plan(requireCampaign(set, 'by-hand'), set);
    expect(plan.recipients).to.deep.equal([]);
    expect(plan.suppressed.map((s) => s.reason)).to.deep.equal(['already_sent', 'already_sent']);
    // Another occurrence would reach them again.
    const other = await t.engine.plan(requireCampaign(set, 'by-hand'), set, { occurrence: 'next' });
    expect(other.recipients).to.have.length(2);
    const { stdout } = await cli(['plan', 'by-hand']);
    expect(stdout).to.match(/already_sent +2/);
  });
});

describe('occurrences of a recurring campaign and plans of a future one', function () {
  this.timeout(60_000);
  let t: TestEngine;
  const clock = new ManualClock('2026-11-23T08:30:00Z'); // a Monday, 09:30 in Berlin

  before(async () => {
    t = await testEngine(FIXTURE, clock);
    await seedLeads(t.database, confirmedLeads(2, 'cron'), clock.now());
  });
  after(() => t.close());

  it('a cron campaign sends once per firing: again at the next firing, not again within one', async () => {
    const set = t.engine.loadCampaigns();
    const weekly = requireCampaign(set, 'weekly');
    const first = await t.engine.run(weekly, set, { trigger: 'manual' });
    expect(first.occurrence).to.equal('cron:2026-11-23T08:00:00.000Z');
    expect(first.counts).to.include({ enrolled: 2, queued: 2 });
    clock.advance(3 * 3_600_000);
    const sameFiring = await t.engine.run(weekly, set, { trigger: 'schedule' });
    expect(sameFiring.occurrence).to.equal(first.occurrence);
    expect(sameFiring.counts).to.include({ enrolled: 0, queued: 0 });
    clock.set('2026-11-30T08:05:00Z');
    const nextWeek = await t.engine.run(weekly, set, { trigger: 'schedule' });
    expect(nextWeek.occurrence).to.equal('cron:2026-11-30T08:00:00.000Z');
    expect(nextWeek.counts).to.include({ enrolled: 2, queued: 2 });
  });

  it('plan of a campaign scheduled in the future uses the scheduled instant for send times', async () => {
    const set = t.engine.loadCampaigns();
    const plan = await t.engine.plan(requireCampaign(set, 'spring-sale'), set);
    expect(plan.recipients.map((r) => r.send_at)).to.deep.equal(['2027-03-20T10:00:00+01:00', '2027-03-20T10:00:00+01:00']);
  });
});
