import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { loadCampaignSet } from '../../src/campaigns/load.ts';
import { formatProblem } from '../../src/yaml/problems.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { seedLeads } from '../helpers/seed.ts';

const exec = promisify(execFile);
const FIXTURE = path.resolve('test/fixtures/template-vars');

describe('validate: template variables nothing provides', function () {
  this.timeout(60_000);
  let t: TestEngine;

  before(async () => {
    t = await testEngine({ CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'), TEMPLATES_DIR: path.join(FIXTURE, 'templates') });
    await seedLeads(t.database, [{ id: 'v-1', email: 'v1@example.com', first: 'Val', locale: null, orders: 3, consent: ['grant'] }]);
    await t.engine.ingestEvents([{ lead: 'v-1', event: 'signed_up', properties: { plan: 'pro' } }]);
  });
  after(() => t.close());

  const validate = async (args: string[] = []) => {
    const { stdout, stderr } = await exec(process.execPath, ['bin/touchpoint.js', 'validate', ...args], {
      env: { ...process.env, ...t.env, LOG_LEVEL: 'error' },
      cwd: process.cwd(),
    });
    return {
      lines: stdout
        .trim()
        .split('\n')
        .map((l) => l.replace('test/fixtures/template-vars/', '')),
      stderr,
    };
  };

  it('warns, at the step, about variables no lead field, attribute in the database, persona key or event property provides', async () => {
    const { lines, stderr } = await validate();
    expect(lines).to.deep.equal([
      'campaigns/promo.yaml:9:15 warning: templates/promo/default.email.hbs reads {{lead.firstName}}, which no lead field and no attribute of any lead in the database provides; did you mean lead.first_name?',
      'campaigns/promo.yaml:9:15 warning: templates/promo/default.email.hbs reads {{event.plan}}, which only event campaigns have (the properties of the event that started the sequence)',
      "campaigns/welcome.yaml:9:15 warning: templates/welcome/default.email.hbs reads {{event.seats}}, which no 'signed_up' event in the database has as a property",
      'campaigns/welcome.yaml:9:15 warning: templates/welcome/default.email.hbs reads {{lead.loyalty_tier}}, which no lead field and no attribute of any lead in the database provides',
      'campaigns/welcome.yaml:9:15 warning: templates/welcome/default.email.hbs reads {{persona.colour}}, which no persona in personas.yaml has (keys: id, greeting)',
    ]);
    // Warnings, not errors: the files are valid.
    expect(stderr).to.contain('valid (2 campaign(s), 2 persona(s), 5 warning(s))');
  });

  it('offline, reports only what is certain: a lead field written differently, persona keys, event.* outside event campaigns', async () => {
    const { lines } = await validate(['--offline']);
    expect(lines.map((l) => /\{\{[^}]+\}\}/.exec(l)![0])).to.deep.equal(['{{lead.firstName}}', '{{event.plan}}', '{{persona.colour}}']);
  });
});

describe('validate: reply queues', () => {
  it('points a reply_queue that inbound.yaml does not define at the campaign line', () => {
    const root = path.resolve('test/fixtures/reply-queue');
    const set = loadCampaignSet({
      campaignsDir: path.join(root, 'campaigns'),
      templatesDir: path.resolve('test/fixtures/inbound/templates'),
    });
    expect(set.problems.map((p) => formatProblem(p, root))).to.deep.equal([
      "campaigns/followup.yaml:6:14 warning: reply queue 'retenshun' is not defined in inbound.yaml (queues: retention, general); replies go to its default queue",
    ]);
  });
});
