import type { Server } from 'node:http';
import { outboxDir } from '../../channels/index.ts';
import type { Engine } from '../../engine.ts';
import { errorMessage, isConnectionError } from '../../errors.ts';
import { createApp } from '../../http/app.ts';
import { startWorkerListener } from '../../http/worker-listener.ts';
import { startInboundSmtp } from '../../inbound/smtp-listener.ts';
import { log } from '../../log.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { untilSignal } from '../signals.ts';
import { seedSamplesIfEmpty } from '../samples.ts';
import { formatProblem } from '../../yaml/problems.ts';

/**
 * Agenda starts database calls it never awaits (it unlocks a job without waiting, for one); one
 * that fails because the database went away would end the process, Node's default for a rejection
 * nobody handles. Those are the database watch's to report; any other still ends the process.
 */
function surviveDatabaseOutages(): void {
  process.on('unhandledRejection', (reason) => {
    if (!isConnectionError(reason)) throw reason;
    log.debug('a background database call failed', { error: errorMessage(reason) });
  });
}

/** Starts what every long-running process has: dispatcher, scheduler and database watch, after reporting problems. */
async function startWorking(engine: Engine): Promise<void> {
  surviveDatabaseOutages();
  const set = engine.loadCampaigns();
  for (const problem of set.problems) log.warn(`campaign problem: ${formatProblem(problem)}`);
  log.info('campaigns loaded', { campaigns: set.campaigns.size, personas: set.personas.length, problems: set.problems.length });
  await engine.start();
}

/**
 * Waits for SIGTERM or SIGINT (listened for from the start, so a signal during start-up stops in
 * order too), then stops: first what takes requests (`before`), then the engine (sends in flight,
 * unsent claims, the scheduler), then what answers health probes (`after`). The CLI shell closes
 * the database last.
 */
async function waitAndStop(
  signal: Promise<NodeJS.Signals>,
  engine: Engine,
  { before = [], after = [] }: { before?: Closable[]; after?: Closable[] },
): Promise<number> {
  log.info('shutting down', { signal: await signal });
  for (const closable of before) await closable.close();
  log.debug('http server and listeners closed');
  await engine.stop();
  log.debug('scheduler and dispatcher stopped');
  for (const closable of after) await closable.close();
  return 0;
}

interface Closable {
  close(): Promise<void>;
}

/** An HTTP server as a Closable. */
function closing(server: Server): Closable {
  return { close: () => closeServer(server) };
}

/**
 * Stops accepting, lets requests in flight finish, and drops idle keep-alive connections, which
 * would otherwise hold the shutdown for as long as a client keeps them open.
 */
async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const force = setTimeout(() => server.closeAllConnections(), 5_000);
  await closed;
  clearTimeout(force);
}

export const serveCommand: Command = {
  name: ['serve'],
  summary: 'run the HTTP API, the scheduler and a dispatcher in one process',
  usage: 'serve [--demo]',
  createsDatabase: true,
  async run(args, ctx) {
    const { values } = parseCommandArgs(args, { demo: { type: 'boolean', default: false } }, false);
    const signal = untilSignal().promise;
    const engine = await ctx.engine();
    await engine.announcePublicUrl();
    if (values.demo) await seedSamplesIfEmpty(engine, ctx.config);
    await startWorking(engine);
    const server = createApp(engine).listen(ctx.config.port);
    // Longer than the idle timeout of clients and proxies (60 s is common), so that they close an
    // idle connection first: a sender that posts into a connection we just closed sees a reset.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
    log.info(`Touchpoint is listening on ${ctx.config.publicUrl}`);
    if (!ctx.config.smtpUrl)
      log.info(`email goes to the outbox: ${outboxDir(ctx.config)} (one .eml file per message; set SMTP_URL to send)`);
    const { inbound } = ctx.config;
    const smtp =
      inbound.smtpPort === undefined
        ? undefined
        : await startInboundSmtp({ ...inbound, host: inbound.smtpHost, port: inbound.smtpPort, receive: engine.receiveReply });
    if (smtp) log.info(`replies are received by SMTP on ${inbound.smtpHost}:${smtp.port} for @${inbound.domain}`);
    return waitAndStop(signal, engine, { before: [closing(server), ...(smtp ? [smtp] : [])] });
  },
};

export const workerCommand: Command = {
  name: ['worker'],
  summary: 'run the scheduler and a dispatcher without HTTP (start as many as you like)',
  usage: 'worker',
  createsDatabase: true,
  async run(args, ctx) {
    parseCommandArgs(args, {}, false);
    const signal = untilSignal().promise;
    const engine = await ctx.engine();
    const port = ctx.config.workerHttpPort;
    // Listening before the start, so that /readyz can say "starting" meanwhile.
    const ops = port === undefined ? undefined : await startWorkerListener(engine, port);
    if (ops) log.info(`health, readiness and metrics on port ${port}: /healthz, /readyz, /metrics`);
    await startWorking(engine);
    return waitAndStop(signal, engine, { after: ops ? [closing(ops)] : [] });
  },
};
