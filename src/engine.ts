import { loadNotices } from './consent/notices.ts';
import type { Agenda } from 'agenda';
import { setTimeout as sleep } from 'node:timers/promises';
import { liveCampaigns } from './campaigns/live.ts';
import { planBatches, planCampaign, type Plan, type PlanBatch, type PlanOptions } from './campaigns/plan.ts';
import { runPreview, type RunPreview } from './campaigns/run-preview.ts';
import { previewStep, type PreviewFor, type StepPreview } from './campaigns/preview.ts';
import { runCampaign, type RunOptions } from './campaigns/run.ts';
import type { CampaignSet } from './campaigns/set.ts';
import { sendTestMessage, type TestSendRequest, type TestSendResult } from './campaigns/test-send.ts';
import type { Campaign } from './campaigns/types.ts';
import { closeChannels, createChannels, createEmailChannel, messageDomain, unsignedEmailWarning } from './channels/index.ts';
import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config.ts';
import { embeddedServerExists } from './db/embedded.ts';
import { openDatabase, type Database } from './db/index.ts';
import { engineMetrics, type Scrape } from './gauges.ts';
import { signingSecret } from './db/settings.ts';
import { AppError } from './errors.ts';
import { withMessageAddresses } from './inbound/addresses.ts';
import { notificationMessageIdSecret, sendNotifications } from './inbound/notify.ts';
import { receiveReply, type IncomingReply, type Received } from './inbound/receive.ts';
import type { EmitEvents, EventInput } from './leads/events.ts';
import { log } from './log.ts';
import { Dispatcher } from './messages/dispatcher.ts';
import { TemplateRenderer } from './render/render.ts';
import { registerSchedules, restartScheduler, startScheduler } from './scheduler/agenda.ts';
import { defaultOccurrence } from './scheduler/schedule.ts';
import { advanceDueSteps } from './sequences/advance.ts';
import { retryFailedSteps, type RetryCounts, type RetryOptions } from './sequences/retry.ts';
import type { StepContext } from './sequences/steps.ts';
import { intakeGroups } from './sequences/intake-group.ts';
import { ingestEach, ingestEvents, type IngestResult } from './sequences/triggers.ts';
import { linkBase } from './public-url.ts';
import { createServices, type Services } from './services.ts';

/**
 * The composition root: what `serve`, `worker`, `run` and the API share. Each process has one
 * pool; the dispatcher, the scheduler, runs, event intake and the services all use it, and all
 * read the time from one clock. The shells get the engine, never the database.
 */
export interface Engine extends Services {
  config: Config;
  clock: Clock;
  /** Signs and verifies links in messages (unsubscribe, double opt-in). */
  secret: string;
  /** Renders templates (compiled, and compiled again when their file changes). */
  renderer: TemplateRenderer;
  /**
   * The campaign files as last loaded: reloaded in the background when they change, never on the
   * caller's path; a file that turned bad keeps its last good version (campaigns/live.ts).
   */
  loadCampaigns(): CampaignSet;
  /** What recording steps needs, for a set of campaigns. */
  stepContext(set: CampaignSet): StepContext;
  run(campaign: Campaign, set: CampaignSet, options: RunOptions): ReturnType<typeof runCampaign>;
  /** Records again (or skips) the failed steps that hold people in a campaign (sequences/retry.ts). */
  retry(campaign: Campaign, set: CampaignSet, options: RetryOptions): Promise<RetryCounts>;
  /** Sends one step's message, marked `[TEST]`, to a user's own or a seed-list address (campaigns/test-send.ts). */
  sendTest(request: TestSendRequest): Promise<TestSendResult>;
  /** Who would get what if the campaign ran now; records nothing. */
  plan(campaign: Campaign, set: CampaignSet, options?: PlanOptions): Promise<Plan>;
  /**
   * What a run would do, counted by step, channel and outcome, for the confirmation before it: of
   * `occurrence`, else of the one a run would use now (named in the answer, so the run confirmed is that one).
   */
  previewRun(campaign: Campaign, set: CampaignSet, occurrence?: string): Promise<RunPreview>;
  /** The same, a batch of the audience at a time, for campaigns of any size (campaigns/plan-output.ts). */
  planBatches(campaign: Campaign, set: CampaignSet, options?: PlanOptions): AsyncIterable<PlanBatch>;
  /** A step's message for a lead or a persona's sample person, as a run would render it; checks no consent, records nothing. */
  preview(set: CampaignSet, campaign: Campaign, stepId: string | undefined, who: PreviewFor): StepPreview;
  /** Takes events in; requests arriving together are taken in together (sequences/intake-group.ts), each answered its own share. */
  ingestEvents(inputs: EventInput[]): Promise<IngestResult>;
  /** Turns a reply (email or SMS) into an inbound contact. */
  receiveReply(reply: IncomingReply): Promise<Received>;
  /** Escalates contacts past their due time to their queue's lead, once each. */
  escalateOverdue(): Promise<number[]>;
  /** Sends the agent notifications that are due (inbound/notify.ts); the scheduler's minute tick calls it. */
  sendNotifications(): Promise<number>;
  /** Records every sequence step that has come due. */
  advanceSequences(): ReturnType<typeof advanceDueSteps>;
  startDispatcher(): Promise<Dispatcher>;
  /** Makes this process's URL the one links in messages use, in every process (`serve`, at its start). */
  announcePublicUrl(): Promise<void>;
  startScheduler(): Promise<Agenda>;
  /** The scheduler this process runs, if it started one (Agenda's dashboard works on it). */
  scheduler(): Agenda | undefined;
  /** Every metric of this process, in the Prometheus text format (`/metrics`). */
  metrics(): Promise<Scrape>;
  /**
   * What `serve` and `worker` run: the dispatcher and the scheduler, and a watch on the database
   * that restarts the scheduler when the database returns after an outage.
   */
  start(): Promise<void>;
  /** Whether this process can do its work now (`/readyz`). */
  readiness(): Readiness;
  /**
   * Stops claiming, gives the sends in flight up to `config.stopTimeoutMs` to finish and be recorded
   * (unsent claims are handed back), then stops the scheduler in the time left, then the channels.
   * The caller closes the database after. A step that fails is logged and the next one still runs.
   */
  stop(): Promise<void>;
}

export type Readiness = { ready: true } | { ready: false; reason: 'starting' | 'stopping' | 'database unreachable' };

export async function createEngine(config: Config, database: Database, clock: Clock = systemClock): Promise<Engine> {
  const { pool } = database;
  const secret = await signingSecret(pool, config.secret);
  const renderer = new TemplateRenderer(config.templatesDir);
  const campaigns = liveCampaigns(
    { campaignsDir: config.campaignsDir, templatesDir: config.templatesDir, maxFileBytes: config.campaignMaxFileBytes },
    clock,
  );
  const loadCampaigns = campaigns.current;
  const base = await linkBase(pool, config);
  // Read at each use: `serve` announces its URL after the engine is made.
  const links = {
    renderer,
    templatesDir: config.templatesDir,
    secret,
    feedbackIdSender: config.feedbackIdSender,
    get publicUrl() {
      return base.url();
    },
  };
  const stepContext = (set: CampaignSet): StepContext => ({ ...links, set, clock });
  // Contacts emit their events (contact_received, contact_closed, …) through here, in the transaction of the change.
  const emit: EmitEvents = (client, inputs) => ingestEvents(client, stepContext(loadCampaigns()), inputs);
  // Read once: a notice's text is fixed once people were shown it (a new wording is a new version).
  const notices = loadNotices(config.noticesDir);
  const services = createServices({ pool, config, clock, secret, confirmation: links, loadCampaigns, emit, notices });
  let dispatcher: Dispatcher | undefined;
  let agenda: Agenda | undefined;
  let channels: ReturnType<typeof createChannels> | undefined;
  const metrics = engineMetrics({
    pool,
    clock,
    scheduler: () => agenda,
    queues: () => loadCampaigns().inbound.queues.map((q) => q.id),
  });
  let lifecycle: 'starting' | 'running' | 'stopping' = 'starting';
  /** Scheduler restarts and the stop take turns, so a stop never races a restart. */
  let schedulerTurn = Promise.resolve();
  const schedulerDeps = {
    pool,
    clock,
    campaign: (id: string) => loadCampaigns().campaigns.get(id),
    run: async (campaign: Campaign, occurrence: string) => {
      await engine.run(campaign, loadCampaigns(), { occurrence, trigger: 'schedule' });
    },
    advance: async () => {
      await engine.advanceSequences();
    },
    escalate: async () => {
      const escalated = await engine.escalateOverdue();
      if (escalated.length > 0) log.info(`escalated ${escalated.length} overdue contact(s)`, { contacts: escalated });
      await engine.sendNotifications();
    },
  };
  /** When the database returns after an outage: a fresh Agenda (scheduler/agenda.ts). */
  const onDatabaseReturn = (downSince: Date) => {
    schedulerTurn = schedulerTurn
      .then(async () => {
        if (!agenda || lifecycle !== 'running') return;
        agenda = await restartScheduler(agenda, schedulerDeps, downSince);
        log.info('scheduler restarted after the database outage');
      })
      // The database may have gone again meanwhile: its next return tries once more.
      .catch((err: unknown) => log.error('restarting the scheduler failed', { error: err }));
  };

  const engine: Engine = {
    ...services,
    config,
    clock,
    secret,
    renderer,
    loadCampaigns,
    stepContext,
    run: (campaign, set, options) => runCampaign({ pool, steps: stepContext(set), batchSize: config.runBatchSize }, campaign, options),
    retry: (campaign, set, options) => retryFailedSteps(pool, stepContext(set), campaign, options, config.runBatchSize),
    sendTest: (request) =>
      sendTestMessage(
        {
          ...links,
          pool,
          clock,
          seedList: config.testRecipients,
          phoneRegion: config.phoneRegion,
          channels: (messageIdSecret) => createChannels(config, messageIdSecret),
        },
        loadCampaigns(),
        request,
      ),
    plan: (campaign, set, options) =>
      planCampaign({ ...links, db: pool, batchSize: config.runBatchSize, clock }, campaign, set.personas, options),
    planBatches: (campaign, set, options) =>
      planBatches({ ...links, db: pool, batchSize: config.runBatchSize, clock }, campaign, set.personas, options),
    previewRun: (campaign, set, occurrence = defaultOccurrence(campaign, clock.now())) =>
      runPreview(campaign.id, occurrence, engine.planBatches(campaign, set, { occurrence })),
    preview: (set, campaign, stepId, who) => previewStep(links, set, campaign, stepId, who),
    ingestEvents: intakeGroups((inputs) => ingestEach(pool, stepContext(loadCampaigns()), inputs)),
    receiveReply: (reply) =>
      receiveReply(
        {
          pool,
          secret,
          publicUrl: links.publicUrl,
          messageDomain: messageDomain(config),
          set: loadCampaigns(),
          templatesDir: config.templatesDir,
          now: clock.now(),
          emit,
        },
        reply,
      ),
    escalateOverdue: () => services.inbox.escalateOverdue(),
    sendNotifications: () =>
      sendNotifications(
        pool,
        {
          email: () => createEmailChannel(config, notificationMessageIdSecret(secret), 'agent-notifications'),
          publicUrl: links.publicUrl,
        },
        clock.now(),
      ),
    advanceSequences: () => advanceDueSteps(pool, stepContext(loadCampaigns()), config.runBatchSize),
    async startDispatcher() {
      const unsigned = unsignedEmailWarning(config);
      if (unsigned) log.warn(unsigned);
      channels = createChannels(config, secret, config.inbound.domain);
      dispatcher = new Dispatcher({
        pool,
        url: database.url,
        channels,
        clock,
        batchSize: config.dispatch.batchSize,
        maxAttempts: config.dispatch.maxAttempts,
        pollMs: config.dispatch.pollMs,
        retryBaseMs: config.dispatch.retryBaseMs,
        circuit: config.dispatch.circuit,
        emailHeaders: (id, headers) => withMessageAddresses(secret, config.inbound.domain, id, headers),
      });
      await dispatcher.start();
      return dispatcher;
    },
    async startScheduler() {
      agenda = await startScheduler(schedulerDeps);
      await registerSchedules(agenda, loadCampaigns().campaigns.values());
      return agenda;
    },
    scheduler: () => agenda,
    announcePublicUrl: () => base.announce(),
    metrics,
    async start() {
      await engine.startDispatcher();
      await engine.startScheduler();
      database.watch(onDatabaseReturn);
      lifecycle = 'running';
    },
    readiness() {
      if (lifecycle !== 'running') return { ready: false, reason: lifecycle };
      return database.reachable() ? { ready: true } : { ready: false, reason: 'database unreachable' };
    },
    async stop() {
      lifecycle = 'stopping';
      const deadline = Date.now() + config.stopTimeoutMs;
      await schedulerTurn;
      // Idempotent: the CLI shell stops the engine again after a command that stopped it itself.
      const [scheduler, sender, adapters] = [agenda, dispatcher, channels];
      agenda = dispatcher = channels = undefined;
      campaigns.stop();
      if (sender) await stopDispatcher(sender, deadline);
      if (scheduler) await stopScheduler(scheduler, deadline);
      if (adapters) await closeChannels(adapters).catch((err: unknown) => log.warn('closing the channels failed', { error: err }));
    },
  };
  return engine;
}

/** Lets the sends in flight finish until `deadline`; past it they are left to other dispatchers (see README, Graceful stop). */
async function stopDispatcher(dispatcher: Dispatcher, deadline: number): Promise<void> {
  const stopped = dispatcher.stop().then(
    () => true,
    (err: unknown) => {
      log.warn('the dispatcher stopped with an error', { error: err });
      return true;
    },
  );
  // Unref'd: a stop that finishes in time must not wait for this timer.
  const timeout = sleep(Math.max(0, deadline - Date.now()), false, { ref: false });
  if (await Promise.race([stopped, timeout])) log.debug('dispatcher stopped');
  else log.warn('sends still in flight at the stop timeout are left to another dispatcher, flagged possible_duplicate');
}

/** Lets running jobs finish until `deadline`; a job still running then keeps its lock and runs again after Agenda's lock lifetime. */
async function stopScheduler(agenda: Agenda, deadline: number): Promise<void> {
  try {
    const { running, timedOut } = await agenda.drain(Math.max(1, deadline - Date.now()));
    if (timedOut) log.warn('scheduler jobs still running at the stop timeout', { running });
    else log.debug('scheduler drained');
  } catch (err) {
    log.warn('stopping the scheduler failed', { error: err });
  }
}

/** An engine on the configured database (embedded when DATABASE_URL is unset), for one CLI command. */
export interface OpenEngine {
  engine: Engine;
  /** Stops what the engine started, then closes the database. */
  close(): Promise<void>;
}

/**
 * Opens the engine for a command. Unless `createDatabase`, an embedded database that does not exist
 * yet is refused, with where it was looked for: a command run from the wrong folder must not
 * answer "no lead" from a new empty database.
 */
export async function openEngine(config: Config, { createDatabase }: { createDatabase: boolean }): Promise<OpenEngine> {
  if (!config.databaseUrl && !createDatabase && !embeddedServerExists(config.dataDir)) {
    throw new AppError('not_found', `no Touchpoint database in ${config.dataDir}`, {
      details: [
        `found as ${config.dataDirOrigin}`,
        '`touchpoint serve` (npm start) creates it; or run this in the project folder, or set TOUCHPOINT_DATA_DIR or DATABASE_URL',
      ],
    });
  }
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: config.databasePoolSize });
  try {
    const engine = await createEngine(config, database);
    return {
      engine,
      async close() {
        await engine.stop();
        await database.close();
      },
    };
  } catch (err) {
    await database.close();
    throw err;
  }
}
