import type { Agenda } from 'agenda';
import { loadCampaignSet } from './campaigns/load.ts';
import { runCampaign, type RunDeps, type RunOptions } from './campaigns/run.ts';
import type { Campaign, CampaignSet } from './campaigns/types.ts';
import { closeChannels, createChannels } from './channels/index.ts';
import type { Config } from './config.ts';
import type { Database } from './db/index.ts';
import { signingSecret } from './db/settings.ts';
import { Dispatcher } from './messages/dispatcher.ts';
import { TemplateRenderer } from './render/render.ts';
import { registerSchedules, startScheduler } from './scheduler/agenda.ts';

/**
 * The composition root: what `serve`, `worker` and `run` share. Each process has one pool; the
 * dispatcher, the scheduler and runs all use it.
 */
export interface Engine {
  config: Config;
  database: Database;
  /** Signs and verifies links in messages (unsubscribe). */
  secret: string;
  /** Loads campaign files as they are on disk now. */
  loadCampaigns(): CampaignSet;
  run(campaign: Campaign, set: CampaignSet, options: RunOptions): ReturnType<typeof runCampaign>;
  startDispatcher(): Promise<Dispatcher>;
  startScheduler(): Promise<Agenda>;
  /** Stops scheduler, then dispatcher, then channels; the caller closes the database after. */
  stop(): Promise<void>;
}

export async function createEngine(config: Config, database: Database): Promise<Engine> {
  const secret = await signingSecret(database.pool, config.secret);
  const renderer = new TemplateRenderer(config.templatesDir);
  const runDeps: RunDeps = {
    db: database.db,
    pool: database.pool,
    renderer,
    templatesDir: config.templatesDir,
    publicUrl: config.publicUrl,
    secret,
    batchSize: config.runBatchSize,
  };
  const loadCampaigns = () => loadCampaignSet({ campaignsDir: config.campaignsDir, templatesDir: config.templatesDir });
  let dispatcher: Dispatcher | undefined;
  let agenda: Agenda | undefined;
  let channels: ReturnType<typeof createChannels> | undefined;

  return {
    config,
    database,
    secret,
    loadCampaigns,
    run: (campaign, set, options) => runCampaign(runDeps, campaign, set.personas, options),
    async startDispatcher() {
      channels = createChannels(config);
      dispatcher = new Dispatcher({
        pool: database.pool,
        url: database.url,
        channels,
        batchSize: config.dispatch.batchSize,
        maxAttempts: config.dispatch.maxAttempts,
        pollMs: config.dispatch.pollMs,
        retryBaseMs: config.dispatch.retryBaseMs,
      });
      await dispatcher.start();
      return dispatcher;
    },
    async startScheduler() {
      // Campaign files are read when a job fires, so edits take effect without a restart.
      agenda = await startScheduler({
        pool: database.pool,
        campaign: (id) => loadCampaigns().campaigns.get(id),
        run: async (campaign, occurrence) => {
          await runCampaign(runDeps, campaign, loadCampaigns().personas, { occurrence, trigger: 'schedule' });
        },
      });
      await registerSchedules(agenda, loadCampaigns().campaigns.values());
      return agenda;
    },
    async stop() {
      await agenda?.drain(30_000);
      await dispatcher?.stop();
      if (channels) await closeChannels(channels);
    },
  };
}
