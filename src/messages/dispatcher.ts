import crypto from 'node:crypto';
import pg from 'pg';
import type { Channel as ChannelName } from '../campaigns/types.ts';
import { SendError, type Channel } from '../channels/channel.ts';
import type { Clock } from '../clock.ts';
import { errorMessage } from '../errors.ts';
import { log } from '../log.ts';
import {
  claimDueMessages,
  markFailed,
  markRetry,
  markSent,
  reclaimFromDeadWorkers,
  WORKER_LOCK_NAMESPACE,
  type ClaimedMessage,
} from './claim.ts';

export interface DispatcherOptions {
  pool: pg.Pool;
  /** Connection string for the dedicated connection that holds the liveness lock and LISTENs. */
  url: string;
  channels: Partial<Record<ChannelName, Channel>>;
  clock: Clock;
  batchSize: number;
  maxAttempts: number;
  pollMs: number;
  /** First retry delay; doubles per attempt, with jitter, up to an hour. */
  retryBaseMs?: number;
}

/** Delay before attempt `attempts + 1`: exponential with full jitter in its upper half. */
export function retryDelay(attempts: number, baseMs: number): number {
  const ceiling = Math.min(3_600_000, baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(ceiling * (0.5 + Math.random() * 0.5));
}

/**
 * Sends what the outbox holds. Claims due rows in batches, sends them through the channel adapters
 * with bounded concurrency, and records each outcome; runs until stopped. Any number of dispatchers
 * may run against one database.
 */
export class Dispatcher {
  readonly worker = crypto.randomInt(1, 2 ** 31 - 1);
  private lockClient: pg.Client | undefined;
  private running = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private lastReclaim = 0;
  private sent = 0;

  constructor(private readonly options: DispatcherOptions) {}

  get sentCount(): number {
    return this.sent;
  }

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.url, application_name: 'touchpoint-dispatcher' });
    client.on('error', (err) => {
      // Without its lock connection this process may be taken for dead and its rows re-sent by
      // others; stop claiming at once.
      log.error('dispatcher lost its database connection; stopping', { error: err.message });
      this.running = false;
      this.wake?.();
    });
    await client.connect();
    await client.query('SELECT pg_advisory_lock($1, $2)', [WORKER_LOCK_NAMESPACE, this.worker]);
    await client.query('LISTEN touchpoint_dispatch');
    client.on('notification', () => this.wake?.());
    this.lockClient = client;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops claiming, lets in-flight sends finish and be recorded, then releases the lock. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.lockClient?.end().catch(() => {});
    this.lockClient = undefined;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.reclaimIfDue();
        const batch = await claimDueMessages(this.options.pool, this.worker, this.options.batchSize, this.options.clock.now());
        if (batch.length === 0) {
          await this.idle();
          continue;
        }
        await this.sendBatch(batch);
      } catch (err) {
        if (!this.running) break;
        log.error('dispatch round failed; retrying', { error: errorMessage(err) });
        await this.idle();
      }
    }
  }

  private async reclaimIfDue(): Promise<void> {
    if (Date.now() - this.lastReclaim < this.options.pollMs * 5) return;
    this.lastReclaim = Date.now();
    const reclaimed = await reclaimFromDeadWorkers(this.lockClient!, this.worker, this.options.clock.now());
    if (reclaimed > 0) log.warn('re-queued messages of a dispatcher that died mid-send', { messages: reclaimed });
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.options.pollMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async sendBatch(batch: ClaimedMessage[]): Promise<void> {
    const sent: { id: number; providerId: string }[] = [];
    let accepted = 0;
    let flushing = Promise.resolve();
    // Acceptances are recorded in small groups as they come, so the window in which a crash
    // could cause a re-send stays a few milliseconds wide, without one UPDATE per message.
    const flush = () => {
      const group = sent.splice(0);
      if (group.length === 0) return flushing;
      flushing = flushing.then(async () => {
        await markSent(this.options.pool, this.worker, group, this.options.clock.now());
        this.sent += group.length;
      });
      return flushing;
    };
    const queue = [...batch];
    const lanes = Math.min(queue.length, this.concurrency(batch));
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        for (let message = queue.shift(); message; message = queue.shift()) {
          const providerId = await this.sendOne(message);
          if (providerId !== undefined) {
            accepted++;
            sent.push({ id: message.id, providerId });
            if (sent.length >= 20) void flush();
          }
        }
      }),
    );
    await flush();
    const channel = this.options.channels[batch[0]!.channel];
    log.info(`sent ${accepted} of ${batch.length} message(s) to ${channel?.destination ?? 'nowhere'}`);
  }

  private concurrency(batch: ClaimedMessage[]): number {
    const channel = this.options.channels[batch[0]!.channel];
    return channel?.concurrency ?? 1;
  }

  /** Returns the provider id on acceptance; records failures itself. */
  private async sendOne(message: ClaimedMessage): Promise<string | undefined> {
    const channel = this.options.channels[message.channel];
    const { pool, maxAttempts, retryBaseMs = 30_000 } = this.options;
    if (!channel) {
      await markFailed(pool, this.worker, message.id, 'no_channel', `no ${message.channel} channel is configured`);
      return undefined;
    }
    try {
      const { providerId } = await channel.send({
        id: message.id,
        to: message.toAddress,
        subject: message.subject,
        html: message.bodyHtml,
        text: message.bodyText,
        headers: message.headers,
      });
      return providerId;
    } catch (err) {
      const error = errorMessage(err);
      if (err instanceof SendError && err.permanent) {
        await markFailed(pool, this.worker, message.id, 'rejected', error);
      } else if (message.attempts >= maxAttempts) {
        await markFailed(pool, this.worker, message.id, 'attempts_exhausted', error);
      } else {
        await markRetry(pool, this.worker, message.id, error, new Date(this.options.clock.now().getTime() + retryDelay(message.attempts, retryBaseMs)));
      }
      log.warn('send failed', { message: message.id, attempt: message.attempts, error });
      return undefined;
    }
  }
}
