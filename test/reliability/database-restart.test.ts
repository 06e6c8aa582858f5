import { expect } from 'chai';
import { Deployment } from '../../scripts/drills/lib/deployment.ts';
import { deliveryFigures, outboxRows } from '../../scripts/drills/lib/figures.ts';
import { processesUnder, sleep, until } from '../../scripts/drills/lib/processes.ts';
import { CAMPAIGN, seedAudience, writeCampaign, type Audience } from '../../scripts/drills/lib/seed.ts';

/**
 * Real processes on a shared embedded PostgreSQL, deployed by the drills' own harness
 * (scripts/drills/lib): `touchpoint serve` (it starts the server), a `touchpoint worker` with its
 * health listener, and a real SMTP server in a process of its own that records every copy.
 */
async function deploy(name: string, latencyMs = 0): Promise<Deployment> {
  const d = await Deployment.create({ drill: name, workers: 1, latencyMs });
  writeCampaign(d);
  await d.startSmtp();
  await d.startServe();
  return d;
}

async function bothReady(d: Deployment): Promise<void> {
  await until(
    'serve and the worker to be ready',
    async () =>
      (await d.fetchStatus('/readyz')) === 200 && (await d.fetchStatus('/readyz', d.workerPorts[0]!)) === 200 ? true : undefined,
    120_000,
  );
}

/** Every change of `/readyz` on serve and on the worker's listener, polled every 50 ms. */
function watchReadiness(d: Deployment) {
  const seen = { serve: [] as (number | string)[], worker: [] as (number | string)[] };
  let running = true;
  const note = (list: (number | string)[], answer: number | string) => {
    if (list.at(-1) !== answer) list.push(answer);
  };
  const loop = (async () => {
    while (running) {
      const [serve, worker] = await Promise.all([
        d.fetchStatus('/readyz', d.httpPort, 500),
        d.fetchStatus('/readyz', d.workerPorts[0]!, 500),
      ]);
      note(seen.serve, serve);
      note(seen.worker, worker);
      await sleep(50);
    }
  })();
  return {
    seen,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/**
 * One deployment for the file (it costs seconds to start): the kill, the send finished after it,
 * then serve and the worker stopped together, in that order.
 */
describe('serve and a worker on a shared embedded PostgreSQL', function () {
  this.timeout(400_000);
  let d: Deployment;
  let audience: Audience;
  let ready: ReturnType<typeof watchReadiness> | undefined;

  before(async () => {
    // The SMTP server holds each message 150 ms, so the kill lands while the send is going on.
    d = await deploy('reliability-db-restart', 150);
    audience = await seedAudience(d, 400);
    await d.startWorkers();
    await bothReady(d);
  });
  after(async () => {
    await ready?.stop();
    await d.teardown(false);
  });

  it('live through PostgreSQL killed mid-send: they start it again on its port, /readyz says 503 then 200, the scheduler runs again', async () => {
    ready = watchReadiness(d);
    await d.cli(['run', CAMPAIGN, '--yes']);
    await until('100 recipients reached', () => (d.record.read().accepted >= 100 ? true : undefined), 60_000, 20);

    const killed = d.db.postmaster()!;
    process.kill(killed.pid, 'SIGKILL');
    // The processes using the server supervise it: one of them starts it again, on the same port.
    const restarted = await until(
      'serve or the worker to start PostgreSQL again',
      () => {
        const server = d.db.postmaster();
        return server && server.pid !== killed.pid ? server : undefined;
      },
      60_000,
      50,
    );
    expect(restarted.port).to.equal(killed.port);
    const { seen } = ready;
    await until('both to be ready again', () => (seen.serve.at(-1) === 200 && seen.worker.at(-1) === 200 ? true : undefined), 30_000);
    const returnedAt = new Date();
    await ready.stop();

    expect(d.touchpoint.map((p) => [p.name, p.alive, p.exits.length])).to.deep.equal([
      ['serve', true, 0],
      ['worker-1', true, 0],
    ]);
    for (const answers of [seen.serve, seen.worker]) expect(answers.join(' '), 'readiness answers').to.match(/^200 503 (503 )*200$/);
    // Agenda, started anew on the new connections, runs its 10-second tick again.
    await until(
      'the sequences tick to run after the return',
      async () => {
        const [tick] = await d.db.query<{ at: Date | null }>(
          `SELECT max(last_run_at) AS at FROM agenda_jobs WHERE name = 'sequences-tick'`,
        );
        return tick?.at && tick.at > returnedAt ? true : undefined;
      },
      30_000,
      250,
    );
  });

  it('send the backlog after the return: every message delivered once, or again flagged possible_duplicate', async () => {
    await until('the backlog to be sent', async () => ((await d.pending()) === 0 ? true : undefined), 90_000, 200);
    const { figures } = deliveryFigures(await outboxRows(d), d.record, audience.consented, audience.unconsented);
    expect(figures).to.include({ lost: 0, sent_to_non_consented: 0, duplicates_not_flagged: 0 });
    expect(figures.outbox_rows_by_status).to.deep.equal({ sent: 400, suppressed: audience.unconsented.length });
  });

  it('leave no PostgreSQL process behind when they stop at the same instant', async () => {
    // Only touchpoint processes use the server: the harness keeps no connection of its own.
    await d.db.close();
    // Before the fix, 3 rounds in 10 found PostgreSQL still running: each process saw the other connected.
    for (let round = 1; round <= 3; round++) {
      if (round > 1) {
        for (const p of d.touchpoint) p.start();
        await bothReady(d);
      }
      // One SIGTERM each, sent back to back; a generous grace before SIGKILL, for a loaded machine.
      await Promise.all(d.touchpoint.map((p) => p.stop(40_000)));

      expect(
        d.touchpoint.map((p) => p.exits.at(-1)?.code),
        `round ${round}: exit codes`,
      ).to.deep.equal([0, 0]);
      expect(d.db.postmaster(), `round ${round}: postmaster`).to.equal(undefined);
      expect(processesUnder(d.dataDir), `round ${round}: processes working in the data directory`).to.deep.equal([]);
    }
  });
});
