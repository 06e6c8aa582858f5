import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { testEngine, type TestEngine } from '../helpers/engine.ts';

const exec = promisify(execFile);

describe('the sample campaign reads right', function () {
  this.timeout(60_000);
  let t: TestEngine;

  before(async () => {
    t = await testEngine({ CAMPAIGNS_DIR: path.resolve('campaigns'), TEMPLATES_DIR: path.resolve('templates') });
    await t.engine.leads.import(path.resolve('samples/leads.csv'), {});
  });
  after(() => t.close());

  const preview = async (lead: string) =>
    (await exec(process.execPath, ['bin/touchpoint.js', 'preview', 'winback-q4', '--lead', lead], { env: { ...process.env, ...t.env } }))
      .stdout;

  it('greets a German reader in German, with the salutation of the lead when known, and counts orders in the right number', async () => {
    const anna = await preview('c-1001');
    expect(anna).to.contain('Subject: Anna, ein Dankeschön für 7 Bestellungen');
    expect(anna).to.contain('Liebe Anna,');
    expect(anna).not.to.match(/Dear|Hello/);
    const jonas = await preview('c-1010');
    expect(jonas).to.contain('Subject: Jonas, ein Dankeschön für 1 Bestellung\n');
    expect(jonas).to.contain('Lieber Jonas,');
    expect(jonas).to.contain('Sie haben 1 Bestellung bei uns aufgegeben');
  });

  it('falls back to a greeting that fits anyone when the salutation is not known', async () => {
    await t.engine.leads.save([
      {
        externalId: 'de-x',
        email: 'x@example.com',
        phone: null,
        firstName: 'Kim',
        lastName: null,
        locale: 'de-DE',
        timezone: null,
        persona: 'loyalist',
        tags: ['customer'],
        attributes: { orders: 3 },
      },
    ]);
    const kim = await preview('de-x');
    expect(kim).to.contain('Subject: Kim, ein Dankeschön für 3 Bestellungen');
    expect(kim).to.contain('Hallo Kim,');
  });
});
