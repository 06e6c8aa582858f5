import path from 'node:path';
import { expect } from 'chai';
import { loadCampaignSet, requireCampaign } from '../../src/campaigns/load.ts';
import { campaignSchema } from '../../src/campaigns/yaml-schema.ts';
import { validateCommand } from '../../src/cli/commands/validate.ts';
import type { CliContext } from '../../src/cli/command.ts';
import { loadConfig } from '../../src/config.ts';
import { AppError } from '../../src/errors.ts';
import { formatProblem } from '../../src/yaml/problems.ts';

const BROKEN = path.resolve('test/fixtures/campaigns-broken');
const E2E = path.resolve('test/fixtures/e2e');

function load(root: string, files?: string[]) {
  return loadCampaignSet({ campaignsDir: path.join(root, 'campaigns'), templatesDir: path.join(root, 'templates'), files });
}

function fakeContext(root: string): CliContext & { out: string; err: string } {
  const ctx = {
    out: '',
    err: '',
    config: loadConfig({
      CAMPAIGNS_DIR: path.join(root, 'campaigns'),
      TEMPLATES_DIR: path.join(root, 'templates'),
      TOUCHPOINT_DATA_DIR: path.join(root, 'no-data'),
    }),
    stdout: { write: (s: string) => ((ctx.out += s), true) } as unknown as NodeJS.WriteStream,
    stderr: { write: (s: string) => ((ctx.err += s), true) } as unknown as NodeJS.WriteStream,
    engine: () => Promise.reject(new Error('validate must not open the database')),
  };
  return ctx;
}

describe('campaign validation', () => {
  it('reports every mistake of a file at once, each at its exact line and column', () => {
    const lines = load(BROKEN).problems.map((p) => formatProblem(p, BROKEN));
    expect(lines).to.deep.equal([
      'campaigns/syntax.yaml:3:1 duplicate key: a key may appear only once in a mapping',
      "campaigns/winback.yaml:1:5 'id' must be lowercase-kebab (letters, digits and single dashes), got 'Winback_Q4'",
      "campaigns/winback.yaml:5:1 unknown key 'audiance'",
      "campaigns/winback.yaml:8:19 unknown persona 'bargain-hunter'; personas.yaml defines: vip, regular",
      "campaigns/winback.yaml:10:11 'audience.where.days' must be a value, or a mapping with in: [list], gt/gte/lt/lte: number, or exists: true/false",
      "campaigns/winback.yaml:13:13 'schedule.timezone' must be an IANA timezone such as Europe/Berlin, got 'Mars/Olympus'",
      "campaigns/winback.yaml:16:14 'steps[0].channel' must be one of email, sms, preferred",
      "campaigns/winback.yaml:18:5 missing required key 'steps[1].template'",
      "campaigns/winback.yaml:19:11 'steps[1].wait' must be a duration like 30s, 15m, 2h, 3d or 1w, got '3 days'",
      "campaigns/winback.yaml:23:15 template 'nowhere' has no email variant for persona 'vip' (looked for templates/nowhere/vip.email.hbs or default.email.hbs)",
    ]);
  });

  it('keeps the valid campaign of a set in which other files are broken', () => {
    const set = load(BROKEN);
    expect([...set.campaigns.keys()]).to.deep.equal(['good']);
    expect(set.personas.map((p) => p.id)).to.deep.equal(['vip', 'regular']);
  });

  it('names the problems of a broken campaign when it is asked for by id', () => {
    const set = load(BROKEN);
    const err = (() => {
      try {
        requireCampaign(set, 'dup-keys');
      } catch (e) {
        return e;
      }
    })() as AppError;
    expect(err).to.be.instanceOf(AppError).with.property('code', 'invalid_campaign');
    expect(err.details.join('\n')).to.contain('syntax.yaml:3:1 duplicate key');
    expect(() => requireCampaign(set, 'nope')).to.throw(AppError, /no campaign 'nope'/);
  });

  it('needs an SMS template for an SMS step', () => {
    const set = loadCampaignSet({
      campaignsDir: path.join(E2E, 'campaigns'),
      templatesDir: path.join(E2E, 'templates'),
      files: [path.resolve('test/fixtures/campaigns-unsupported/sequence.yaml')],
    });
    expect(set.problems.map((p) => `${p.line}:${p.col} ${p.message}`)).to.include(
      "15:15 template 'spring-offer' has no sms variant for persona 'vip' (looked for templates/spring-offer/vip.sms.hbs or default.sms.hbs)",
    );
    expect(set.campaigns.size).to.equal(0);
  });

  it('validate prints problems and exits 1, or confirms a valid set and exits 0, without a database', async () => {
    const broken = fakeContext(BROKEN);
    expect(await validateCommand.run([], broken)).to.equal(1);
    expect(broken.out.trim().split('\n')).to.have.length(10);
    expect(broken.err).to.contain('10 problem(s) in 2 file(s)');

    const good = fakeContext(E2E);
    expect(await validateCommand.run([], good)).to.equal(0);
    expect(good.out).to.equal('');
    expect(good.err).to.match(/valid \(2 campaign\(s\), 2 persona\(s\)\)/);
  });

  it('reports marketing templates without an unsubscribe link or opt-out wording as errors', () => {
    const root = path.resolve('test/fixtures/lint');
    expect(load(root).problems.map((p) => formatProblem(p, root))).to.deep.equal([
      'campaigns/promo.yaml:9:15 marketing email template templates/promo/default.email.hbs has no {{unsubscribe_url}} link',
      'campaigns/promo.yaml:12:15 marketing SMS template templates/promo/default.sms.hbs does not say how to opt out (e.g. "Reply STOP to opt out")',
    ]);
  });
});

describe('campaign goal', () => {
  const campaign = (goal: unknown) => ({
    id: 'launch',
    name: 'Launch',
    kind: 'lead',
    purpose: 'marketing',
    audience: { tags: ['customer'] },
    goal,
    steps: [{ id: 'offer', channel: 'email', template: 'offer' }],
  });

  it('takes an attribution window as a duration, and keeps a goal without one valid', () => {
    expect(campaignSchema.validate(campaign({ event: 'purchase' })).error).to.equal(undefined);
    expect(campaignSchema.validate(campaign({ event: 'purchase', within: '2d' })).error).to.equal(undefined);
    expect(campaignSchema.validate(campaign({ event: 'purchase', within: 'a week' })).error?.message).to.equal(
      '"goal.within" must be a duration like 30s, 15m, 2h, 3d or 1w, got "a week"',
    );
  });
});
