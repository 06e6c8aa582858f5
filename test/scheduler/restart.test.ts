import type { Agenda } from 'agenda';
import { expect } from 'chai';
import { systemClock } from '../../src/clock.ts';
import { INBOUND_ESCALATE, restartScheduler, SEQUENCES_TICK, startScheduler, type SchedulerDeps } from '../../src/scheduler/agenda.ts';
import { testEngine, until, type TestEngine } from '../helpers/engine.ts';

describe('the scheduler after a database outage', function () {
  this.timeout(30_000);
  let t: TestEngine;
  let agenda: Agenda | undefined;

  before(async () => {
    t = await testEngine();
  });
  after(async () => {
    await agenda?.stop();
    await t.close();
  });

  it('starts anew and takes back at once a job locked before the outage, leaving a lock taken since', async () => {
    let ticks = 0;
    const deps: SchedulerDeps = {
      pool: t.database.pool,
      clock: systemClock,
      campaign: () => undefined,
      run: async () => {},
      advance: async () => void ticks++,
      escalate: async () => {},
    };
    const old = await startScheduler(deps);
    await until(async () => (ticks > 0 ? true : undefined));
    // As the outage left them: the tick's lock from before it, whose end was never recorded; the
    // escalation locked since by another process, which is running it now.
    const downSince = new Date(Date.now() - 5_000);
    const lockedSince = new Date(Date.now() - 1_000);
    await t.database.pool.query(`UPDATE agenda_jobs SET locked_at = $2, next_run_at = now() WHERE name = $1`, [
      SEQUENCES_TICK,
      new Date(downSince.getTime() - 60_000),
    ]);
    await t.database.pool.query(`UPDATE agenda_jobs SET locked_at = $2 WHERE name = $1`, [INBOUND_ESCALATE, lockedSince]);
    const before = ticks;

    agenda = await restartScheduler(old, deps, downSince);

    // Without the hand-back, the tick would wait out its 10-minute lock.
    await until(async () => (ticks > before ? true : undefined), 15_000);
    const { rows } = await t.database.pool.query<{ locked_at: Date }>(`SELECT locked_at FROM agenda_jobs WHERE name = $1`, [
      INBOUND_ESCALATE,
    ]);
    expect(rows[0]!.locked_at.getTime()).to.equal(lockedSince.getTime());
  });
});
