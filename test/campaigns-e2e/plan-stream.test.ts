import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { planSummary, writePlanJson, writePlanNdjson } from '../../src/campaigns/plan-output.ts';
import type { Plan } from '../../src/campaigns/plan.ts';
import { ManualClock } from '../../src/clock.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { seedLeads, type SeedLead } from '../helpers/seed.ts';

const exec = promisify(execFile);
const CONSENTS: SeedLead['consent'][] = [['grant', 'confirm'], ['grant'], [], ['grant', 'confirm', 'withdraw'], ['legacy']];
const LOCALES = [null, 'de-DE', 'fr-FR', 'en-US'];
const ZONES = [undefined, 'Europe/Berlin', 'Asia/Tokyo', 'America/New_York'];

/** Forty leads over every persona, locale variant, zone and suppression reason, planned in batches of three. */
const LEADS: SeedLead[] = Array.from({ length: 40 }, (_, i) => ({
  id: `s-${String(i).padStart(2, '0')}`,
  email: i % 13 === 5 ? null : `s${i}@example.com`,
  phone: '+4915112345678',
  first: `S${i}`,
  locale: LOCALES[i % 4]!,
  timezone: ZONES[(i >> 2) % 4],
  orders: (i * 7) % 20,
  consent: CONSENTS[i % 5]!,
  tags: i % 9 === 4 ? ['prospect'] : ['customer'],
}));

async function collect(write: (sink: (text: string) => Promise<void>) => Promise<void>): Promise<string> {
  let text = '';
  await write(async (chunk) => {
    text += chunk;
  });
  return text;
}

describe('plan at any size', function () {
  this.timeout(60_000);
  let t: TestEngine;
  let plan: Plan;
  const batches = () => {
    const set = t.engine.loadCampaigns();
    return t.engine.planBatches(requireCampaign(set, 'spring'), set);
  };

  before(async () => {
    // A still clock: every form of the plan says the same send times.
    t = await testEngine({ RUN_BATCH_SIZE: '3' }, new ManualClock(new Date('2026-03-02T08:30:00Z')));
    await seedLeads(t.database, LEADS);
    const set = t.engine.loadCampaigns();
    plan = await t.engine.plan(requireCampaign(set, 'spring'), set);
    expect(plan.recipients.length).to.be.greaterThan(10);
    expect(new Set(plan.suppressed.map((s) => s.reason)).size).to.be.greaterThan(2);
  });
  after(() => t.close());

  it('streams the same JSON document as the plan held in memory', async () => {
    const text = await collect((write) => writePlanJson('spring', batches(), write));
    expect(JSON.parse(text)).to.deep.equal(plan);
  });

  it('streams JSON lines of every recipient and suppression, and a summary with the same figures', async () => {
    const lines = (await collect((write) => writePlanNdjson('spring', batches(), write)))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const strip = (type: string) => lines.filter((l) => l.type === type).map(({ type: _, ...rest }) => rest);
    expect(strip('recipient')).to.deep.equal(plan.recipients);
    expect(strip('suppressed')).to.deep.equal(plan.suppressed);
    const whole = await planSummary('spring', [plan]);
    expect(lines.at(-1)).to.deep.include({ type: 'summary', recipients: plan.recipients.length, suppressed: plan.suppressed.length });
    expect(lines.at(-1)).to.deep.include({ by_persona: whole.byPersona, by_local_hour: whole.byLocalHour, by_reason: whole.byReason });
  });

  it('counts the streamed plan exactly as the plan held in memory', async () => {
    const streamed = await planSummary('spring', batches());
    const whole = await planSummary('spring', [plan]);
    expect(streamed).to.deep.equal(whole);
    expect(streamed.byLocalHour).to.not.deep.equal({});
    expect(Object.values(streamed.byTemplate).reduce((a, b) => a + b, 0)).to.equal(plan.recipients.length);
  });

  it('the CLI writes the document to --out, and the table shows counts and a sample', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-'));
    try {
      const out = path.join(dir, 'plan.json');
      const env = { ...process.env, ...t.env, LOG_LEVEL: 'error' };
      await exec(process.execPath, ['bin/touchpoint.js', 'plan', 'spring', '--json', '--out', out], { env });
      // The CLI plans at its own now: all but the send times agree.
      const withoutTimes = (p: Plan) => ({ ...p, recipients: p.recipients.map(({ send_at: _, ...r }) => r) });
      expect(withoutTimes(JSON.parse(fs.readFileSync(out, 'utf8')) as Plan)).to.deep.equal(withoutTimes(plan));
      const { stdout } = await exec(process.execPath, ['bin/touchpoint.js', 'plan', 'spring'], { env });
      expect(stdout).to.contain(`First 10 of ${plan.recipients.length} recipient(s):`);
      expect(stdout).to.match(/local send hour\s+count/);
      expect(stdout).to.contain(`${plan.recipients.length} recipient(s), ${plan.suppressed.length} suppressed`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
