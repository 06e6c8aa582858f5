import crypto from 'node:crypto';
import pg from 'pg';
import { SendError, type ChannelAdapters } from '../channels/channel.ts';
import type { Clock } from '../clock.ts';
import { LOCKS, lockForSession } from '../db/locks.ts';
import { listen } from '../db/notify.ts';
import { withTransaction } from '../db/tx.ts';
import { errorMessage } from '../errors.ts';
import { TWILIO_UNSUBSCRIBED, withdrawUnsubscribed } from './delivery.ts';
import { log } from '../log.ts';
import { messageMetrics as metrics } from './metrics.ts';
import { claimDueMessages, markFailed, markRetry, markSent, reclaimFromDeadWorkers, releaseClaims, type ClaimedMessage } from './claim.ts';

export interface DispatcherOptions {
  pool: pg.Pool;
  /** Connection string for the dedicated connection that holds the liveness lock and LISTENs. */
  url: string;
  channels: ChannelAdapters;
  clock: Clock;
  batchSize: number;
  maxAttempts: number;
  pollMs: number;
  /** First retry delay; doubles per attempt, with jitter, up to an hour. */
  retryBaseMs?: number;
  /** Headers added to an email at send time, when its id is known (Reply-To, mailto unsubscribe). */
  emailHeaders?: (messageId: number, headers: Record<string, string>) => Record<string, string>;
}

/** Delay before attempt `attempts + 1`: exponential with full jitter in its upper half. */
export function retryDelay(attempts: number, baseMs: number): number {
  const ceiling = Math.min(3_600_000, baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(ceiling * (0.5 + Math.random() * 0.5));
}

/**
 * Sends what the outbox holds, until stopped. Lanes (as many as the channels take at once) pull
 * messages from a local queue that is refilled by claiming due rows in batches; a notification
 * from a commit that queued messages wakes an idle dispatcher at once. Outcomes are recorded as
 * they happen. Any number of dispatchers may run against one database.
 */
export class Dispatcher {
  readonly worker = crypto.randomInt(1, 2 ** 31 - 1);
  private lockClient: pg.Client | undefined;
  private running = false;
  private wake: (() => void) | undefined;
  /** Set by a notification that may have raced a claim which could not yet see the new rows. */
  private notified = false;
  private loop: Promise<void> | undefined;
  private lastReclaim = 0;
  private queue: ClaimedMessage[] = [];
  private claiming: Promise<void> | undefined;
  private accepted: { id: number; providerId: string }[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private sentSinceLog = 0;

  constructor(private readonly options: DispatcherOptions) {}

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
    await lockForSession(client, LOCKS.dispatcher, this.worker);
    // Raised by the messages table's triggers (migration 0003) whenever a commit queues messages.
    await listen(client, 'touchpoint_dispatch');
    client.on('notification', () => {
      this.notified = true;
      this.wake?.();
    });
    this.lockClient = client;
    this.running = true;
    const lanes = Math.max(1, ...Object.values(this.options.channels).map((c) => c.concurrency));
    this.loop = Promise.all(Array.from({ length: lanes }, () => this.lane())).then(() => this.finish());
  }

  /** Stops claiming, lets in-flight sends finish and be recorded, hands back unsent claims. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    // At once, not after the sends in flight: those may outlast the stop's timeout (engine.ts).
    await this.releaseUnsent();
    await this.loop;
    await this.lockClient?.end().catch(() => {});
    this.lockClient = undefined;
  }

  private async lane(): Promise<void> {
    while (this.running) {
      const message = await this.next();
      if (!message) continue;
      try {
        const providerId = await this.sendOne(message);
        if (providerId === undefined) continue;
        metrics.sent(message.channel);
        this.recordAccepted(message.id, providerId);
      } catch (err) {
        // Recording a failed send failed (the database went away): the row stays claimed and is
        // taken over like any unrecorded claim. A lane that threw would end the process.
        log.warn('could not record the outcome of a send', { message: message.id, error: errorMessage(err) });
      }
    }
  }

  private async finish(): Promise<void> {
    await this.flush();
    await this.releaseUnsent();
  }

  /** Hands back claimed messages no lane has started. */
  private async releaseUnsent(): Promise<void> {
    const unsent = this.queue.splice(0);
    if (unsent.length === 0) return;
    // Nobody may be waiting for this (a dispatcher that lost its connection stops by itself): a
    // rejection here would end the process. Unreleased claims are taken over once our lock is gone.
    await releaseClaims(
      this.options.pool,
      this.worker,
      unsent.map((m) => m.id),
    ).catch((err: unknown) =>
      log.warn('could not hand back unsent messages; another dispatcher takes them over', {
        messages: unsent.length,
        error: errorMessage(err),
      }),
    );
  }

  /** The next message to send; refills the queue (one claim at a time) or idles when none is due. */
  private async next(): Promise<ClaimedMessage | undefined> {
    const queued = this.queue.shift();
    if (queued) return queued;
    this.claiming ??= this.refill().finally(() => (this.claiming = undefined));
    await this.claiming;
    return this.running ? this.queue.shift() : undefined;
  }

  private async refill(): Promise<void> {
    try {
      await this.reclaimIfDue();
      this.notified = false;
      const batch = await claimDueMessages(this.options.pool, this.worker, this.options.batchSize, this.options.clock.now());
      if (batch.length > 0) {
        this.queue.push(...batch);
        return;
      }
      this.logSent();
      await this.idle();
    } catch (err) {
      if (!this.running) return;
      log.error('claiming messages failed; retrying', { error: errorMessage(err) });
      await this.idle();
    }
  }

  private async reclaimIfDue(): Promise<void> {
    if (Date.now() - this.lastReclaim < this.options.pollMs * 5) return;
    this.lastReclaim = Date.now();
    const reclaimed = await reclaimFromDeadWorkers(this.lockClient!, this.worker, this.options.clock.now());
    if (reclaimed > 0) log.warn('re-queued messages of a dispatcher that died mid-send', { messages: reclaimed });
    metrics.possibleDuplicates(reclaimed);
  }

  private idle(): Promise<void> {
    if (this.notified || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.options.pollMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /**
   * Acceptances are recorded in small groups as they come, so the window in which a crash could
   * cause a re-send stays a few milliseconds wide, without one UPDATE per message.
   */
  private recordAccepted(id: number, providerId: string): void {
    this.accepted.push({ id, providerId });
    if (this.accepted.length >= 50) void this.flush();
    else this.flushTimer ??= setTimeout(() => void this.flush(), 20);
  }

  private flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const group = this.accepted.splice(0);
    if (group.length === 0) return this.flushing;
    this.flushing = this.flushing
      .then(() => markSent(this.options.pool, this.worker, group, this.options.clock.now()))
      .then(
        () => {
          this.sentSinceLog += group.length;
          metrics.acceptanceRecorded(
            this.options.pool,
            group.map((g) => g.id),
          );
        },
        (err: unknown) =>
          log.error('recording sent messages failed; they will be re-sent as possible duplicates', { error: errorMessage(err) }),
      );
    return this.flushing;
  }

  private logSent(): void {
    if (this.sentSinceLog === 0) return;
    const destinations = [...new Set(Object.values(this.options.channels).map((c) => c.destination))].join(', ');
    log.info(`sent ${this.sentSinceLog} message(s) to ${destinations}`);
    this.sentSinceLog = 0;
  }

  /** Returns the provider id on acceptance; records failures itself. */
  private async sendOne(message: ClaimedMessage): Promise<string | undefined> {
    const channel = this.options.channels[message.channel];
    const { pool, maxAttempts, retryBaseMs = 30_000 } = this.options;
    if (!channel) {
      await markFailed(pool, this.worker, message.id, 'no_channel', `no ${message.channel} channel is configured`);
      metrics.failed(message.channel, 'no_channel');
      return undefined;
    }
    if (message.toAddress === null) {
      // Erasure stops queued messages; one in flight then and retried since has no address left.
      await markFailed(pool, this.worker, message.id, 'erased', 'the recipient’s data was erased: there is no address to send to');
      metrics.failed(message.channel, 'erased');
      return undefined;
    }
    try {
      const { providerId } = await channel.send({
        id: message.id,
        to: message.toAddress,
        subject: message.subject,
        html: message.bodyHtml,
        text: message.bodyText,
        headers:
          message.channel === 'email' && this.options.emailHeaders
            ? this.options.emailHeaders(message.id, message.headers)
            : message.headers,
      });
      return providerId;
    } catch (err) {
      const error = errorMessage(err);
      if (err instanceof SendError && err.permanent) {
        await markFailed(pool, this.worker, message.id, 'rejected', error);
        metrics.failed(message.channel, 'rejected');
        if (message.channel === 'sms' && err.code === TWILIO_UNSUBSCRIBED) {
          await withTransaction(pool, (client) =>
            withdrawUnsubscribed(client, message.leadId, message.purpose, `message:${message.id}`, this.options.clock.now()),
          );
        }
      } else if (message.attempts >= maxAttempts) {
        await markFailed(pool, this.worker, message.id, 'attempts_exhausted', error);
        metrics.failed(message.channel, 'attempts_exhausted');
      } else {
        await markRetry(
          pool,
          this.worker,
          message.id,
          error,
          new Date(this.options.clock.now().getTime() + retryDelay(message.attempts, retryBaseMs)),
        );
        metrics.retried(message.channel);
      }
      log.warn('send failed', { message: message.id, attempt: message.attempts, error });
      return undefined;
    }
  }
}
