import os from 'node:os';
import { PostgresBackend, PostgresJobLogger, PostgresJobRepository } from '@agendajs/postgres-backend';
import { Agenda, type Job } from 'agenda';
import type pg from 'pg';
import type { Campaign } from '../campaigns/types.ts';
import type { Clock } from '../clock.ts';
import { LOCKS, whileLocked } from '../db/locks.ts';
import { errorMessage, isConnectionError } from '../errors.ts';
import { log } from '../log.ts';
import { atInstant, scheduledOccurrence, scheduleZone } from './schedule.ts';

/** Agenda runs campaign runs and periodic ticks; messages go through the outbox, never one job each. */
export const CAMPAIGN_RUN = 'campaign-run';
/** Carries sequences forward: records the steps whose wait is over. */
export const SEQUENCES_TICK = 'sequences-tick';
const TICK_EVERY = '10 seconds';
/** Escalates inbound contacts nobody accepted in time. */
export const INBOUND_ESCALATE = 'inbound-escalate';
const ESCALATE_EVERY = '1 minute';

interface CampaignRunData {
  campaign: string;
  kind: 'at' | 'cron';
  occurrence?: string;
}

export interface SchedulerDeps {
  pool: pg.Pool;
  clock: Clock;
  /** The current campaign definition, or undefined when it is gone or broken. */
  campaign(id: string): Campaign | undefined;
  /** Starts a run; resolves when its messages are recorded. */
  run(campaign: Campaign, occurrence: string): Promise<void>;
  /** Records due sequence steps. */
  advance(): Promise<void>;
  /** Escalates overdue inbound contacts. */
  escalate(): Promise<void>;
}

/** Agenda's errors; those of a database that cannot be reached are the database watch's to report. */
function reportError(err: Error): void {
  if (isConnectionError(err)) log.debug('scheduler: the database cannot be reached', { error: err.message });
  else log.error('scheduler error', { error: err.message });
}

/**
 * Agenda's tables (its jobs, and the log its dashboard may read), made by Agenda's own code, one
 * process at a time: processes starting together, or restarting together after an outage, raced
 * on the same CREATE … IF NOT EXISTS, and the loser's "tuple concurrently updated" was thrown
 * inside Agenda's constructor, where nothing can catch it, ending the process.
 */
async function prepareTables(pool: pg.Pool): Promise<void> {
  await whileLocked(pool, LOCKS.schedulerTables, async () => {
    await new PostgresJobRepository({ pool }).connect();
    await new PostgresJobLogger().setPool(pool);
  });
}

export async function startScheduler(deps: SchedulerDeps): Promise<Agenda> {
  await prepareTables(deps.pool);
  const backend = new PostgresBackend({ pool: deps.pool, ensureSchema: false });
  const agenda = new Agenda({
    backend,
    // Names the process in agenda_jobs.last_modified_by, also among several hosts.
    name: `touchpoint-${os.hostname()}-${process.pid}`,
    processEvery: '5 seconds',
    defaultLockLifetime: 10 * 60 * 1000,
  });
  agenda.on('error', reportError);
  // The LISTEN connection is an EventEmitter of its own: an 'error' with no listener (the database
  // going away) would end the process. It reconnects by itself.
  backend.notificationChannel?.on('error', reportError);
  agenda.define(CAMPAIGN_RUN, async (job: Job<CampaignRunData>) => {
    const { campaign: id } = job.attrs.data;
    // Its lines name the job as Agenda's dashboard shows it.
    const jobLog = log.child({ job: String(job.attrs._id), campaign: id });
    const campaign = deps.campaign(id);
    const occurrence = campaign && scheduledOccurrence(campaign, deps.clock.now());
    if (!campaign || !occurrence) {
      // The file was removed, broke, or lost its schedule since this job was registered.
      jobLog.warn('scheduled campaign is gone or unscheduled; removing its job');
      await job.remove();
      return;
    }
    try {
      await deps.run(campaign, occurrence);
    } catch (err) {
      jobLog.error('scheduled run failed', { occurrence, error: errorMessage(err) });
      throw err;
    }
  });
  agenda.define(SEQUENCES_TICK, async () => deps.advance(), { concurrency: 1 });
  agenda.define(INBOUND_ESCALATE, async () => deps.escalate(), { concurrency: 1 });
  await agenda.start();
  await agenda.every(TICK_EVERY, SEQUENCES_TICK, {}, { skipImmediate: false });
  await agenda.every(ESCALATE_EVERY, INBOUND_ESCALATE, {}, { skipImmediate: false });
  return agenda;
}

/**
 * A new Agenda after the database returned from an outage that began at `downSince`, on the pool's
 * new connections (its LISTEN connection included). A job running or about to run when the server
 * went away could not record its end, and its lock would hold it back for the whole lock lifetime
 * (10 minutes): every job locked before the outage and not running in this process is handed back
 * first. Which process locked it cannot be told (`last_modified_by` is rewritten by every process
 * that registers the periodic jobs); each process does this, and handing back twice changes
 * nothing. A job that outlived the outage in another process may then run twice at once, which
 * every job here allows (runs record idempotently, ticks claim with SKIP LOCKED).
 */
export async function restartScheduler(old: Agenda, deps: SchedulerDeps, downSince: Date): Promise<Agenda> {
  // An instance whose restart failed half-way (the database gone again) is stopped already.
  const stats = await old.getRunningStats(true).catch(() => undefined);
  const running = new Set(((stats?.runningJobs ?? []) as { _id?: unknown }[]).map((job) => String(job._id)));
  await old.stop();
  const { jobs } = await old.queryJobs({ names: [CAMPAIGN_RUN, SEQUENCES_TICK, INBOUND_ESCALATE] });
  const stale = jobs.filter((job) => job.lockedAt && new Date(job.lockedAt) < downSince && !running.has(String(job._id)));
  if (stale.length > 0) {
    await old.db.unlockJobs(stale.map((job) => job._id!));
    log.info('handed back scheduler jobs interrupted by the database outage', { jobs: stale.map((job) => job.name) });
  }
  return startScheduler(deps);
}

/**
 * Registers `schedule.at` and `schedule.cron` of every lead campaign. Unique keys make this safe
 * to repeat at every start and from several processes: an `at` job that already ran stays done.
 */
export async function registerSchedules(agenda: Agenda, campaigns: Iterable<Campaign>): Promise<number> {
  let registered = 0;
  for (const campaign of campaigns) {
    if (campaign.kind !== 'lead' || !campaign.schedule) continue;
    const at = atInstant(campaign);
    if (at) {
      const occurrence = `at:${at.toISOString()}`;
      await agenda
        .create<CampaignRunData>(CAMPAIGN_RUN, { campaign: campaign.id, kind: 'at', occurrence })
        .schedule(at)
        .unique({ 'data.campaign': campaign.id, 'data.occurrence': occurrence }, { insertOnly: true })
        .save();
      registered++;
    } else if (campaign.schedule.cron) {
      await agenda
        .create<CampaignRunData>(CAMPAIGN_RUN, { campaign: campaign.id, kind: 'cron' })
        .repeatEvery(campaign.schedule.cron, { timezone: scheduleZone(campaign), skipImmediate: true })
        .unique({ 'data.campaign': campaign.id, 'data.kind': 'cron' })
        .save();
      registered++;
    }
  }
  return registered;
}
