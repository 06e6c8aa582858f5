import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { testEngine, until, type TestEngine } from '../helpers/engine.ts';
import { confirmedLeads, seedLeads } from '../helpers/seed.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const LEADS = 7;

/**
 * A worker whose sends never finish by themselves: the SMTP server holds every message for a
 * minute. Four lanes (and SMTP connections), so four messages are in flight and the rest of its
 * claim waits in memory.
 */
function startWorker(t: TestEngine, sink: SmtpSink, env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['bin/touchpoint.js', 'worker'], {
    env: { ...process.env, ...t.env, SMTP_URL: sink.url, DISPATCH_CONCURRENCY: '4', LOG_LEVEL: 'error', ...env },
    stdio: 'ignore',
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function statuses(t: TestEngine, occurrence: string): Promise<Record<string, number>> {
  const { rows } = await t.database.pool.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM messages WHERE occurrence = $1 GROUP BY status`,
    [occurrence],
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

describe('stopping a worker whose sends hang', function () {
  this.timeout(60_000);
  let sink: SmtpSink;
  let t: TestEngine;
  let worker: ChildProcess | undefined;

  before(async () => {
    sink = await startSmtpSink({ delayMs: 60_000 });
  });
  // A database each: the claims a test leaves behind would be re-sent by the next test's worker.
  beforeEach(async () => {
    t = await testEngine({ SMTP_URL: sink.url });
    await seedLeads(t.database, confirmedLeads(LEADS, 'hang'));
  });
  afterEach(async () => {
    worker?.kill('SIGKILL');
    await t.close();
  });
  after(() => sink.close());

  /** Runs the campaign and starts a worker; resolves once it holds the whole run, four messages in flight. */
  async function sending(occurrence: string, env?: Record<string, string>): Promise<ChildProcess> {
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence, trigger: 'manual' });
    const child = startWorker(t, sink, env);
    await until(async () => ((await statuses(t, occurrence)).sending === LEADS ? true : undefined));
    // The claim is in; give the four lanes a moment to open their SMTP transactions.
    await new Promise((r) => setTimeout(r, 500));
    return child;
  }

  it('hands back what it has not started at once, and exits within the stop timeout, leaving the four in flight', async () => {
    worker = await sending('stop-timeout', { STOP_TIMEOUT_MS: '1000' });
    const signalled = Date.now();
    worker.kill('SIGTERM');
    expect(await exited(worker)).to.equal(0);
    expect(Date.now() - signalled, 'ms from SIGTERM to exit').to.be.below(15_000);
    // The four in flight may yet be accepted: another dispatcher re-sends them, flagged.
    expect(await statuses(t, 'stop-timeout')).to.deep.equal({ sending: 4, queued: LEADS - 4 });
  });

  it('exits at once on a second signal while the first waits for the sends in flight', async () => {
    worker = await sending('second-signal');
    worker.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(worker.exitCode, 'still waiting for its sends (20 s by default)').to.equal(null);
    worker.kill('SIGTERM');
    const signalled = Date.now();
    expect(await exited(worker)).to.equal(143);
    expect(Date.now() - signalled, 'ms from the second SIGTERM to exit').to.be.below(5_000);
    expect(await statuses(t, 'second-signal')).to.deep.equal({ sending: 4, queued: LEADS - 4 });
  });
});
