import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { ManualClock } from '../../src/clock.ts';
import type { TestEngine } from '../helpers/engine.ts';
import { apiKeyFor } from '../helpers/keys.ts';
import { api } from '../helpers/observed.ts';
import { useServedEngine, type TestWeb } from '../helpers/web.ts';
import { seedLeads } from '../helpers/seed.ts';
import { editableTemplates } from '../helpers/templates.ts';

const exec = promisify(execFile);
const FIXTURE = 'test/fixtures/templates-live';
const TEMPLATE = 'upgrade/default.email.hbs';
const DAY = 86_400_000;

describe('fixing a failed step and retrying it', function () {
  this.timeout(90_000);
  const templates = editableTemplates(FIXTURE);
  // From now: the CLI process reads the system clock.
  const clock = new ManualClock(new Date());
  const served = useServedEngine({ CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'), TEMPLATES_DIR: templates.dir }, clock);
  let t: TestEngine;
  let web: TestWeb;
  let key: string;

  before(async () => {
    ({ t, web } = served());
    await seedLeads(
      t.database,
      ['ann', 'ben', 'cara', 'dan'].map((id) => ({
        id,
        email: `${id}@example.com`,
        first: id.toUpperCase(),
        locale: null,
        orders: 1,
        consent: ['grant', 'confirm'] as const,
      })),
      clock.now(),
    );
    key = await apiKeyFor(t.database, 'marketer');
  });
  after(() => templates.remove());

  async function messagesOf(lead: string): Promise<{ step: string; status: string; reason: string | null; subject: string | null }[]> {
    const { rows } = await t.database.pool.query(
      `SELECT m.step_id AS step, m.status, m.reason, m.subject FROM messages m JOIN leads l ON l.id = m.lead_id
        WHERE l.external_id = $1 ORDER BY m.id`,
      [lead],
    );
    return rows;
  }
  const upgrade = (leads: string[]) =>
    t.engine.ingestEvents(leads.map((lead) => ({ lead, event: 'upgraded', properties: { plan: 'pro' } })));
  /** As a marketer does it: the file changes, and the running engine sees it within a second. */
  async function editTemplate(from: string, to: string) {
    templates.edit(TEMPLATE, (source) => source.replaceAll(from, to));
    await new Promise((r) => setTimeout(r, 1_100));
  }
  const retryByApi = async (body: object) => {
    const res = await api(web, key, 'POST', '/campaigns/upgrade/retry', body);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('a failed step holds the sequence: the next step does not go out as if it had', async () => {
    await upgrade(['ann', 'ben']);
    clock.advance(3 * DAY);
    await t.engine.advanceSequences();
    for (const lead of ['ann', 'ben']) {
      expect(await messagesOf(lead)).to.deep.equal([{ step: 'thanks', status: 'failed', reason: 'render_error', subject: null }]);
    }
  });

  it('`touchpoint retry --reason render_error` re-renders and queues the failed steps after the fix, and the sequence goes on', async () => {
    await editTemplate('lead.firstname', 'lead.first_name');
    const { stderr } = await exec(process.execPath, ['bin/touchpoint.js', 'retry', 'upgrade', '--reason', 'render_error'], {
      env: { ...process.env, ...t.env, LOG_LEVEL: 'error' },
    });
    expect(stderr).to.contain('upgrade: 2 failed step(s) recorded again: 2 queued, 0 suppressed, 0 failed again');
    expect(await messagesOf('ann')).to.deep.equal([{ step: 'thanks', status: 'queued', reason: null, subject: 'Welcome to pro, ANN' }]);
    // The next step follows its wait from the retry.
    clock.advance(2 * DAY + 60_000);
    await t.engine.advanceSequences();
    expect((await messagesOf('ben')).map((m) => `${m.step}:${m.status}`)).to.deep.equal(['thanks:queued', 'tips:queued']);
  });

  it('retrying again, or twice at once, sends each step once', async () => {
    const again = await retryByApi({});
    expect(again.status).to.equal(200);
    expect(again.body).to.include({ campaign: 'upgrade', retried: 0, queued: 0 });

    await editTemplate('lead.first_name', 'lead.firstname');
    await upgrade(['cara']);
    await editTemplate('lead.firstname', 'lead.first_name');
    const set = t.engine.loadCampaigns();
    const campaign = requireCampaign(set, 'upgrade');
    const both = await Promise.all([t.engine.retry(campaign, set, {}), t.engine.retry(campaign, set, {})]);
    expect(both.map((c) => c.retried).reduce((a, b) => a + b)).to.equal(1);
    expect(await messagesOf('cara')).to.deep.equal([{ step: 'thanks', status: 'queued', reason: null, subject: 'Welcome to pro, CARA' }]);
  });

  it('a step that fails again holds the person again; --skip moves them on and keeps the failure on record', async () => {
    await editTemplate('lead.first_name', 'lead.firstname');
    await upgrade(['dan']);
    const failedAgain = await retryByApi({ step: 'thanks' });
    expect(failedAgain.body).to.include({ retried: 1, failed: 1, queued: 0 });
    expect(await messagesOf('dan')).to.deep.equal([{ step: 'thanks', status: 'failed', reason: 'render_error', subject: null }]);

    const skipped = await retryByApi({ skip: true });
    expect(skipped.body).to.include({ skipped: 1 });
    clock.advance(2 * DAY + 60_000);
    await editTemplate('lead.firstname', 'lead.first_name');
    await t.engine.advanceSequences();
    expect((await messagesOf('dan')).map((m) => `${m.step}:${m.status}`)).to.deep.equal(['thanks:failed', 'tips:queued']);
  });

  it('names the steps a campaign has when asked to retry one it has not', async () => {
    const res = await retryByApi({ step: 'nope' });
    expect(res.status).to.equal(400);
    expect(res.body.message).to.equal("upgrade has no step 'nope' (its steps: thanks, tips)");
  });
});
