import type { Server } from 'node:http';
import { outboxDir } from '../../channels/index.ts';
import type { Engine } from '../../engine.ts';
import { createApp } from '../../http/app.ts';
import { startWorkerListener } from '../../http/worker-listener.ts';
import { startInboundSmtp } from '../../inbound/smtp-listener.ts';
import { log } from '../../log.ts';
import { parseCommandArgs } from '../args.ts';
import type { CliContext, Command } from '../command.ts';
import { untilSignal } from '../signals.ts';
import { seedSamplesIfEmpty } from '../samples.ts';
import { formatProblem } from '../../yaml/problems.ts';

/** Starts what every long-running process has: dispatcher and scheduler, after reporting problems. */
async function startWorking(ctx: CliContext): Promise<Engine> {
  const engine = await ctx.engine();
  const set = engine.loadCampaigns();
  for (const problem of set.problems) log.warn(`campaign problem: ${formatProblem(problem)}`);
  log.info('campaigns loaded', { campaigns: set.campaigns.size, personas: set.personas.length, problems: set.problems.length });
  await engine.startDispatcher();
  await engine.startScheduler();
  return engine;
}

async function waitAndStop(engine: Engine, server?: Server, listener?: { close(): Promise<void> }): Promise<number> {
  const signal = await untilSignal().promise;
  log.info('shutting down', { signal });
  if (server) await closeServer(server);
  await listener?.close();
  log.debug('http server and listeners closed');
  await engine.stop();
  log.debug('scheduler and dispatcher stopped');
  return 0;
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
  async run(args, ctx) {
    const { values } = parseCommandArgs(args, { demo: { type: 'boolean', default: false } }, false);
    if (values.demo) await seedSamplesIfEmpty(await ctx.engine(), ctx.config);
    const engine = await startWorking(ctx);
    const server = createApp(engine).listen(ctx.config.port);
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
    return waitAndStop(engine, server, smtp);
  },
};

export const workerCommand: Command = {
  name: ['worker'],
  summary: 'run the scheduler and a dispatcher without HTTP (start as many as you like)',
  usage: 'worker',
  async run(args, ctx) {
    parseCommandArgs(args, {}, false);
    const engine = await startWorking(ctx);
    const port = ctx.config.workerHttpPort;
    const server = port === undefined ? undefined : await startWorkerListener(engine, port);
    if (server) log.info(`metrics are served on port ${port} (/metrics)`);
    return waitAndStop(engine, server);
  },
};
