import type { Agenda } from 'agenda';
import type pg from 'pg';
import client from 'prom-client';
import type { Clock } from './clock.ts';
import { errorMessage } from './errors.ts';
import { overdueContacts } from './inbound/metrics.ts';
import { log } from './log.ts';
import { OUTBOX_COUNT_CAP, outboxGauges } from './messages/metrics.ts';
import { processRegistry } from './metrics.ts';

/** What an engine's gauges are read from. */
export interface GaugeSources {
  pool: pg.Pool;
  clock: Clock;
  /** Agenda, when this process runs the scheduler. */
  scheduler(): Agenda | undefined;
  /** The queues of inbound.yaml, each reported even when nothing in it is overdue. */
  queues(): string[];
}

/** One scrape: every series of this process in the Prometheus text format. */
export interface Scrape {
  contentType: string;
  text: string;
}

/** A gauge source that does not answer within this long is left out of the scrape, not waited for. */
const READ_TIMEOUT_MS = 5_000;

/**
 * The gauges of one engine, read when scraped: the outbox and overdue contacts (cheap queries on
 * partial indexes), Agenda's jobs by name and state (its table is small), and the pool. Each is read
 * on its own: one that fails (the database gone) is left out of that scrape, so the counters and
 * process metrics still come, and no stale value stands in for a missing one.
 */
export function engineMetrics(sources: GaugeSources): () => Promise<Scrape> {
  const own = new client.Registry();
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new client.Gauge({ name, help, labelNames, registers: [own] });

  const outbox = gauge(
    'touchpoint_outbox_messages',
    `Messages in the outbox by state: due (waiting for a dispatcher), scheduled (due later), sending (claimed); due and scheduled are counted up to ${OUTBOX_COUNT_CAP}.`,
    ['state'],
  );
  const oldestDue = gauge(
    'touchpoint_outbox_oldest_due_age_seconds',
    'How long the oldest due message has waited for a dispatcher; 0 when none is due.',
  );
  const overdue = gauge('touchpoint_inbound_overdue_contacts', 'Open contacts nobody accepted before their due time, by queue.', ['queue']);
  const jobs = gauge(
    'touchpoint_scheduler_jobs',
    "Agenda's jobs by name and state (scheduled, queued, running, repeating, completed, failed, paused).",
    ['name', 'state'],
  );
  const connections = gauge('touchpoint_db_pool_connections', "Connections of this process's pool, by state (busy, idle).", ['state']);
  const waiting = gauge('touchpoint_db_pool_waiting_queries', 'Queries waiting for a free connection of the pool.');
  const poolMax = gauge('touchpoint_db_pool_max_connections', 'The size the pool may grow to.');

  const readers: [string, client.Gauge<string>[], () => Promise<void>][] = [
    [
      'outbox',
      [outbox, oldestDue],
      async () => {
        const o = await outboxGauges(sources.pool, sources.clock.now());
        for (const state of ['due', 'scheduled', 'sending'] as const) outbox.set({ state }, o[state]);
        oldestDue.set(o.oldestDueAgeSeconds);
      },
    ],
    [
      'overdue contacts',
      [overdue],
      async () => {
        const rows = await overdueContacts(sources.pool, sources.clock.now());
        overdue.reset();
        for (const queue of sources.queues()) overdue.set({ queue }, 0);
        for (const { queue, n } of rows) overdue.set({ queue }, n);
      },
    ],
    [
      'scheduler jobs',
      [jobs],
      async () => {
        const agenda = sources.scheduler();
        const overview = agenda ? await agenda.getJobsOverview() : [];
        jobs.reset();
        for (const { name, ...byState } of overview) {
          for (const state of ['scheduled', 'queued', 'running', 'repeating', 'completed', 'failed', 'paused'] as const)
            jobs.set({ name, state }, byState[state]);
        }
      },
    ],
    [
      'pool',
      [connections, waiting, poolMax],
      async () => {
        const { pool } = sources;
        connections.set({ state: 'busy' }, pool.totalCount - pool.idleCount);
        connections.set({ state: 'idle' }, pool.idleCount);
        waiting.set(pool.waitingCount);
        poolMax.set(pool.options.max ?? 10);
      },
    ],
  ];

  return async () => {
    await Promise.all(
      readers.map(async ([name, gauges, read]) => {
        try {
          await withTimeout(read(), READ_TIMEOUT_MS);
        } catch (err) {
          for (const g of gauges) g.reset();
          log.warn('a gauge could not be read; it is left out of this scrape', { gauge: name, error: errorMessage(err) });
        }
      }),
    );
    // Merged per scrape, so that a series declared after this engine was made is not left out.
    const all = client.Registry.merge([processRegistry, own]);
    return { contentType: all.contentType, text: await all.metrics() };
  };
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
