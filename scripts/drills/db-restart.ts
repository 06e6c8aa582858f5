/**
 * Database restart drill: SIGKILL the embedded PostgreSQL's postmaster mid-send, have it start
 * again, and see whether the touchpoint processes live through it and finish the send.
 *
 *   npm run drill:db-restart -- [--n 20000] [--at 0.3] [--down 3s] [--recovery 60s] [--workers 3] [--keep]
 *
 * The postmaster (its pid from postmaster.pid) is killed once the run is recorded and `--at` of
 * the recipients have been reached. The engine is meant to start the embedded server again itself;
 * the drill waits `--down` for that, and otherwise starts it with pg_ctl as an operator would
 * (figure `restarted_by`). Meanwhile it polls `serve`'s /healthz and /readyz and each worker's
 * /healthz (WORKER_HTTP_PORT) every 250 ms and keeps every change of answer.
 *
 * Figures:
 * - exits: every touchpoint process that exited after the kill, when, with its code or signal.
 * - backlog done after the return: from the server accepting connections again to the drill first
 *   seeing nothing queued or being sent, without help. When the backlog is not done within
 *   `--recovery` (or every process has exited), the drill restarts the processes that exited,
 *   then (another `--recovery` later) every process, as an operator would, so that lost and
 *   duplicates can still be counted (`operator_restarts` names what it had to restart).
 * - duplicates: flagged or not (a process that could not record an acceptance re-sends it).
 */
import { drill, duration } from './lib/drill.ts';
import { deliveryFigures, outboxRows, round } from './lib/figures.ts';
import type { Deployment } from './lib/deployment.ts';
import { sleep, until, type ManagedProcess } from './lib/processes.ts';
import { now } from './lib/smtp-record.ts';

const DRAIN_WITHIN_MS = 30_000;
const PROBE_EVERY_MS = 250;

await drill(
  'db-restart',
  {
    at: { type: 'string', default: '0.3' },
    down: { type: 'string', default: '3s' },
    recovery: { type: 'string', default: '60s' },
  },
  async ({ d, n, values, audience, runRecorded, runStartedAt, backlogDone, progress, remainingMs }) => {
    const downMs = duration(values.down as string);
    const recoveryMs = duration(values.recovery as string);
    const threshold = Math.ceil(n * Number(values.at));
    // The CLI's `run` records the outbox; the fault is for the processes that send it.
    await runRecorded;
    await until(`${threshold} recipients reached`, () => (d.record.read().accepted >= threshold ? true : undefined), remainingMs(), 20);

    const probes = await startProbes(d);
    const killedServer = d.db.postmaster();
    if (!killedServer) throw new Error('no postmaster to kill');
    const downAt = now();
    process.kill(killedServer.pid, 'SIGKILL');
    progress(`postmaster ${killedServer.pid} killed at ${d.record.read().accepted} recipients reached`);

    let restartedBy: 'engine' | 'drill' = 'engine';
    const restarted = await until(
      'the database to come back',
      () => {
        const server = d.db.postmaster();
        if (server && server.pid !== killedServer.pid) return true;
        return now() - downAt >= downMs ? false : undefined;
      },
      remainingMs(),
      50,
    );
    if (!restarted) {
      restartedBy = 'drill';
      await d.db.restartServer();
    }
    const upAt = now();
    progress(`database back (restarted by the ${restartedBy}); waiting for the backlog`);
    const aliveAtReturn = Object.fromEntries(d.touchpoint.map((p) => [p.name, p.alive]));

    // With every process gone nobody is left to send it: no point waiting for the backlog.
    const allExited = () => d.touchpoint.every((p) => !p.alive);
    const unaided = await backlogDone({ timeoutMs: recoveryMs, giveUpWhen: allExited });
    const aliveAfter = Object.fromEntries(d.touchpoint.map((p) => [p.name, p.alive]));
    const exits = d.touchpoint.flatMap((p) =>
      p.exits.filter((e) => e.at >= downAt).map((e) => ({ process: p.name, after_kill_s: round((e.at - downAt) / 1000, 1), ...e })),
    );
    const operatorRestarts: string[] = [];
    let doneAt = unaided;
    if (doneAt === undefined) {
      const dead = d.touchpoint.filter((p) => !p.alive);
      const why = allExited() ? 'every process has exited' : `the backlog is not done ${recoveryMs} ms after the return`;
      progress(`${why}; restarting ${dead.map((p) => p.name).join(', ') || 'nothing'}`);
      restart(dead, operatorRestarts);
      doneAt = await backlogDone({ timeoutMs: recoveryMs });
      if (doneAt === undefined) {
        progress('still not done; restarting every process');
        await Promise.all(d.touchpoint.map((p) => p.stop()));
        restart(d.touchpoint, operatorRestarts);
        doneAt = await backlogDone();
      }
    }
    const timeline = await probes.stop();

    const delivery = deliveryFigures(await outboxRows(d), d.record, audience.consented, audience.unconsented);
    const drainMs = unaided === undefined ? undefined : unaided - upAt;
    return {
      figures: {
        restarted_by: restartedBy,
        database_down_s: round((upAt - downAt) / 1000, 1),
        alive_at_return: aliveAtReturn,
        alive_after_recovery: aliveAfter,
        exits: exits.map(({ at: _at, ...e }) => e),
        probes: timeline.map((p) => ({ ...p, at: round((p.at - downAt) / 1000, 1) })),
        readyz_answers: [...new Set(timeline.map((p) => p.readyz))],
        backlog_done_after_return_s: drainMs === undefined ? null : round(drainMs / 1000, 1),
        operator_restarts: operatorRestarts,
        backlog_done: doneAt !== undefined,
        send_duration_s: round(((doneAt ?? now()) - runStartedAt) / 1000, 1),
        ...delivery.figures,
      },
      checks: {
        processes_alive_through_the_restart: exits.length === 0,
        backlog_done_within_30s_of_return: drainMs !== undefined && drainMs <= DRAIN_WITHIN_MS,
        zero_lost: delivery.figures.lost === 0,
        zero_sent_to_non_consented: delivery.figures.sent_to_non_consented === 0,
        every_duplicate_flagged: delivery.figures.duplicates_not_flagged === 0,
      },
    };
  },
);

function restart(processes: ManagedProcess[], log: string[]): void {
  for (const p of processes) {
    p.start();
    log.push(p.name);
  }
}

interface Probe {
  at: number;
  healthz: number | string;
  readyz: number | string;
  workers: (number | string)[];
}

/** Polls the health endpoints and keeps each change of answer; resolves once the first answers are in. */
async function startProbes(d: Deployment): Promise<{ stop(): Promise<Probe[]> }> {
  const timeline: Probe[] = [];
  let running = true;
  let last = '';
  const probe = async () => {
    const [healthz, readyz, ...workers] = await Promise.all([
      d.fetchStatus('/healthz'),
      d.fetchStatus('/readyz'),
      ...d.workerPorts.map((port) => d.fetchStatus('/healthz', port)),
    ]);
    const answers = { healthz: healthz!, readyz: readyz!, workers };
    if (JSON.stringify(answers) !== last) timeline.push({ at: now(), ...answers });
    last = JSON.stringify(answers);
  };
  await probe();
  const loop = (async () => {
    while (running) {
      await sleep(PROBE_EVERY_MS);
      await probe();
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return timeline;
    },
  };
}
