import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { DRILLS_HOME } from '../../scripts/drills/lib/deployment.ts';

/**
 * The fault drills of scripts/drills/, at a reduced size, each run as its own process exactly as
 * `npm run drill:<name>` runs it (its own SMTP server, embedded PostgreSQL, serve and workers),
 * judged by the JSON line it ends with. Each takes 20–40 s; the full-size runs are in
 * docs/RELIABILITY.md.
 */

interface Outcome {
  pass: boolean;
  checks: Record<string, boolean>;
  [figure: string]: unknown;
}

/** Runs a drill and returns its JSON line, and where its directory was. */
async function runDrill(name: string, args: string[]): Promise<{ outcome: Outcome; dir: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', `scripts/drills/${name}.ts`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  await new Promise((resolve) => child.once('exit', resolve));
  const last = stdout.trim().split('\n').at(-1) ?? '';
  if (!last.startsWith('{')) throw new Error(`drill ${name} printed no JSON line\n${stderr}\n${stdout}`);
  return { outcome: JSON.parse(last) as Outcome, dir: path.join(DRILLS_HOME, `${name}-${child.pid}`) };
}

function expectPass(outcome: Outcome): void {
  const failed = Object.entries(outcome.checks).filter(([, ok]) => !ok);
  expect(
    failed.map(([check]) => check),
    JSON.stringify(outcome),
  ).to.deep.equal([]);
  expect(outcome.pass).to.equal(true);
}

describe('fault drills (reduced)', function () {
  this.timeout(240_000);

  it('kill: SIGKILLed workers lose nothing, only messages in flight are re-sent and flagged, and nothing is left behind', async () => {
    const { outcome, dir } = await runDrill('kill', ['--n', '2000', '--kills', '4']);
    expect(outcome).to.include.keys('lost', 'duplicate_copies', 'flagged_never_attempted', 'per_kill', 'checks', 'pass');
    expectPass(outcome);
    expect(outcome.orphans_killed_at_teardown).to.equal(0);
    expect(fs.existsSync(dir), dir).to.equal(false);
  });

  it('smtp-outage: an outage fails no message and the backlog drains within 30 s of the return', async () => {
    expectPass((await runDrill('smtp-outage', ['--n', '1000', '--outage', '8s'])).outcome);
  });

  it('db-restart: processes live through a PostgreSQL restart and finish the send', async () => {
    expectPass((await runDrill('db-restart', ['--n', '1000', '--recovery', '20s'])).outcome);
  });

  it('withdraw-race: no send starts after a committed withdrawal, and the record agrees with the ledger', async () => {
    expectPass((await runDrill('withdraw-race', ['--n', '2000', '--withdrawals', '200'])).outcome);
  });
});
