import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { seedLeads } from '../helpers/seed.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const exec = promisify(execFile);

describe('touchpoint run --wait', function () {
  this.timeout(60_000);
  let t: TestEngine;
  let sink: SmtpSink;

  before(async () => {
    sink = await startSmtpSink();
    t = await testEngine({ SMTP_URL: sink.url });
    await seedLeads(t.database, [
      { id: 'r-1', email: 'r1@example.com', first: 'Rae', locale: null, orders: 1, consent: ['grant', 'confirm'] },
      { id: 'r-2', email: 'r2@example.com', first: 'Rob', locale: null, orders: 1, consent: ['grant'] },
    ]);
  });
  after(async () => {
    await t.close();
    await sink.close();
  });

  it('sends from its own process when no worker runs, and prints the summary', async () => {
    const { stdout, stderr } = await exec(process.execPath, ['bin/touchpoint.js', 'run', 'spring', '--wait'], {
      env: { ...process.env, ...t.env, LOG_LEVEL: 'error' },
    });
    expect(stderr).to.contain('no worker is running; sending from this process');
    expect(stdout).to.contain('sent 1, failed 0, suppressed 1, still queued 0');
    expect(stdout).to.match(/unconfirmed\s+1/);
    expect(sink.messages).to.have.length(1);

    const again = await exec(process.execPath, ['bin/touchpoint.js', 'run', 'spring', '--wait'], { env: { ...process.env, ...t.env, LOG_LEVEL: 'error' } });
    expect(again.stderr).to.contain('0 enrolled (2 already)');
    expect(sink.messages).to.have.length(1);
  });
});
