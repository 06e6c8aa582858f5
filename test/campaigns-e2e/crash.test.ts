import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { settled, testEngine, type TestEngine } from '../helpers/engine.ts';
import { confirmedLeads, seedLeads } from '../helpers/seed.ts';
import { recipient, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const LEADS = 400;

function startWorker(t: TestEngine, sink: SmtpSink): ChildProcess {
  const child = spawn(process.execPath, ['bin/touchpoint.js', 'worker'], {
    env: { ...process.env, ...t.env, SMTP_URL: sink.url, DISPATCH_CONCURRENCY: '4', DISPATCH_BATCH_SIZE: '50', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.setEncoding('utf8');
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('a dispatcher killed mid-run', function () {
  this.timeout(120_000);
  let sink: SmtpSink;
  let t: TestEngine;

  before(async () => {
    // A slow provider, so the kill lands while messages are in flight.
    sink = await startSmtpSink({ delayMs: 15 });
    t = await testEngine({ SMTP_URL: sink.url });
    await seedLeads(t.database, confirmedLeads(LEADS, 'lead'));
  });
  after(async () => {
    await t.close();
    await sink.close();
  });

  it('loses nothing after SIGKILL and a restart, and flags exactly the sends that had started', async () => {
    const set = t.engine.loadCampaigns();
    const { counts } = await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence: 'crash', trigger: 'manual' });
    expect(counts.queued).to.equal(LEADS);

    const first = startWorker(t, sink);
    await sink.waitFor(60, 60_000);
    first.kill('SIGKILL');
    await exited(first);
    const beforeRestart = sink.messages.length;
    expect(beforeRestart).to.be.lessThan(LEADS);
    // What the dead worker held: sends that had started (they may have reached the server) and
    // claims whose send had not.
    const { rows: held } = await t.database.pool.query<{ id: number; started: boolean }>(
      `SELECT id, attempted_at IS NOT NULL AS started FROM messages WHERE occurrence = 'crash' AND status = 'sending'`,
    );
    const started = held.filter((r) => r.started).map((r) => r.id);
    const claimedOnly = held.filter((r) => !r.started).map((r) => r.id);
    expect(started.length, 'the kill should land mid-send').to.be.greaterThan(0);
    expect(started.length, 'a send starts only on a free connection').to.be.at.most(4);
    expect(claimedOnly.length, 'claims wait in memory').to.be.greaterThan(0);

    const second = startWorker(t, sink);
    const summary = await settled(t, 'spring', 'crash', 90_000);
    second.kill('SIGTERM');
    expect(await exited(second)).to.equal(0);

    expect(summary).to.include({ sent: LEADS, failed: 0, queued: 0, sending: 0 });
    const copies = new Map<string, number>();
    for (const m of sink.messages) copies.set(recipient(m), (copies.get(recipient(m)) ?? 0) + 1);
    expect(copies.size).to.equal(LEADS);

    const doubled = [...copies].filter(([, n]) => n > 1).map(([address]) => address);
    const { rows } = await t.database.pool.query<{ email: string }>(
      `SELECT l.email FROM messages m JOIN leads l ON l.id = m.lead_id WHERE m.occurrence = 'crash' AND m.possible_duplicate`,
    );
    const marked = new Set(rows.map((r) => r.email));
    expect(
      doubled.filter((address) => !marked.has(address)),
      'second copies not marked possible_duplicate',
    ).to.deep.equal([]);
    expect([...copies.values()].every((n) => n <= 2)).to.equal(true);

    // Only the started sends are flagged and counted twice; the claims went back as they were.
    const { rows: after } = await t.database.pool.query<{ id: number; possible_duplicate: boolean; attempts: number }>(
      `SELECT id, possible_duplicate, attempts FROM messages WHERE occurrence = 'crash'`,
    );
    const flagged = after.filter((r) => r.possible_duplicate).map((r) => r.id);
    expect(flagged.sort()).to.deep.equal([...started].sort());
    for (const row of after) expect(row.attempts, `message ${row.id}`).to.equal(started.includes(row.id) ? 2 : 1);
  });
});
