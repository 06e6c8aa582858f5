import { PostgresBackend } from '@agendajs/postgres-backend';
import { Agenda, type Job } from 'agenda';
import type pg from 'pg';
import type { Campaign } from '../campaigns/types.ts';
import type { Clock } from '../clock.ts';
import { errorMessage } from '../errors.ts';
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

export async function startScheduler(deps: SchedulerDeps): Promise<Agenda> {
  const agenda = new Agenda({
    backend: new PostgresBackend({ pool: deps.pool }),
    name: `touchpoint-${process.pid}`,
    processEvery: '5 seconds',
    defaultLockLifetime: 10 * 60 * 1000,
  });
  agenda.on('error', (err: Error) => log.error('scheduler error', { error: err.message }));
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
