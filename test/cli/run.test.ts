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
    const { stdout, stderr } = await exec(process.execPath, ['bin/touchpoint.js', 'run', 'spring', '--yes', '--wait'], {
      env: { ...process.env, ...t.env, LOG_LEVEL: 'error' },
    });
    expect(stderr).to.contain('no worker is running; sending from this process');
    expect(stdout).to.contain('sent 1, failed 0, suppressed 1, still queued 0');
    expect(stdout).to.match(/unconfirmed\s+1/);
    expect(sink.messages).to.have.length(1);

    const again = await exec(process.execPath, ['bin/touchpoint.js', 'run', 'spring', '--yes', '--wait'], {
      env: { ...process.env, ...t.env, LOG_LEVEL: 'error' },
    });
    expect(again.stderr).to.contain('0 enrolled (2 already)');
    expect(sink.messages).to.have.length(1);
  });
});

describe('touchpoint users add', function () {
  this.timeout(60_000);
  let t: TestEngine;

  before(async () => {
    t = await testEngine();
  });
  after(() => t.close());

  const cli = (args: string[], input: string) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        ['bin/touchpoint.js', ...args],
        { env: { ...process.env, ...t.env, LOG_LEVEL: 'error' } },
        (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
      );
      child.stdin!.end(input);
    });

  it('creates a user with a scrypt hash from a piped password, and refuses a short one', async () => {
    const ok = await cli(['users', 'add', 'Ann@Example.com', '--role', 'service', '--languages', 'en,de'], 'correct horse battery\n');
    expect(ok.stderr).to.contain('Created service user ann@example.com (en, de)');
    const { rows } = await t.database.pool.query(`SELECT email, role, languages, password_hash FROM users`);
    expect(rows[0]).to.include({ email: 'ann@example.com', role: 'service' });
    expect(rows[0].languages).to.deep.equal(['en', 'de']);
    expect(rows[0].password_hash).to.match(/^scrypt\$32768\$8\$1\$/);
    expect(rows[0].password_hash).not.to.contain('correct horse');

    const short = await cli(['users', 'add', 'bob@example.com', '--role', 'service'], 'short\n');
    expect(short.code).to.not.equal(0);
    expect(short.stderr).to.contain('at least 10 characters');
    const bad = await cli(['users', 'add', 'bob@example.com', '--role', 'boss'], 'correct horse battery\n');
    expect(bad.stderr).to.contain('--role must be one of admin, marketer, service, compliance');
  });

  it('users notify turns a person’s notification emails off and on', async () => {
    const notify = async () => (await t.database.pool.query(`SELECT notify FROM users WHERE email = 'ann@example.com'`)).rows[0].notify;
    expect((await cli(['users', 'notify', 'ann@example.com', 'off'], '')).stderr).to.contain(
      'Notification emails are off for ann@example.com',
    );
    expect(await notify()).to.equal(false);
    await cli(['users', 'notify', 'ann@example.com', 'on'], '');
    expect(await notify()).to.equal(true);
    const bad = await cli(['users', 'notify', 'ann@example.com', 'maybe'], '');
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.contain('on or off');
    expect((await cli(['users', 'notify', 'nobody@example.com', 'off'], '')).stderr).to.contain("no user 'nobody@example.com'");
  });
});

describe('touchpoint run asks before it records', function () {
  this.timeout(60_000);
  let t: TestEngine;

  before(async () => {
    t = await testEngine();
    await seedLeads(t.database, [
      { id: 'c-1', email: 'c1@example.com', first: 'Cy', locale: null, orders: 1, consent: ['grant', 'confirm'] },
      { id: 'c-2', email: 'c2@example.com', first: 'Cal', locale: null, orders: 1, consent: ['grant'] },
    ]);
  });
  after(() => t.close());

  const runs = async () => (await t.database.pool.query(`SELECT occurrence, trigger FROM campaign_runs ORDER BY id`)).rows;
  /**
   * The CLI on a terminal of its own (util-linux `script` gives it a pseudo-terminal) answering
   * `answer` to its question; what the terminal showed.
   */
  const onTerminal = (answer: string) =>
    new Promise<string>((resolve, reject) => {
      const env = { ...process.env, ...t.env, LOG_LEVEL: 'error' };
      const child = execFile(
        'script',
        ['-qefc', `${process.execPath} bin/touchpoint.js run spring`, '/dev/null'],
        { env },
        (err, stdout) => (err && !stdout ? reject(err) : resolve(stdout)),
      );
      // The question comes after the plan; the answer waits for it, as a person would.
      let seen = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes('[y/N]') && !child.stdin!.writableEnded) child.stdin!.end(`${answer}\n`);
      });
    });

  it('refuses without a terminal unless --yes is passed, and records nothing', async () => {
    const refused = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        ['bin/touchpoint.js', 'run', 'spring'],
        { env: { ...process.env, ...t.env, LOG_LEVEL: 'error' } },
        (err, _o, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
      ),
    );
    expect(refused.code).to.equal(2);
    expect(refused.stderr).to.contain('stdin is not one: pass --yes to run without asking');
    expect(await runs()).to.deep.equal([]);
  });

  it('shows the plan by step, channel and outcome with the occurrence, and runs only when confirmed', async () => {
    const declined = await onTerminal('n');
    expect(declined).to.contain("Run spring, occurrence 'once': 1 message(s) to send, 1 left out");
    expect(declined).to.match(/offer\s+email\s+send\s+1/);
    expect(declined).to.match(/offer\s+-\s+unconfirmed\s+1/);
    expect(declined).to.contain('not confirmed: nothing was recorded or sent');
    expect(await runs()).to.deep.equal([]);

    const confirmed = await onTerminal('y');
    expect(confirmed).to.contain("run 1 of spring (occurrence 'once')");
    expect(await runs()).to.deep.equal([{ occurrence: 'once', trigger: 'manual' }]);
  });
});
