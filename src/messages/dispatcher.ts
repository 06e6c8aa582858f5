import crypto from 'node:crypto';
import type pg from 'pg';
import { SendError, type Channel, type ChannelAdapters, type OutgoingMessage } from '../channels/channel.ts';
import type { Clock } from '../clock.ts';
import { withTransaction } from '../db/tx.ts';
import { recordRefusedAddress } from '../deliverability/bounces.ts';
import { errorMessage } from '../errors.ts';
import { log } from '../log.ts';
import { recordFailure, recordRetry, recordSent, type Accepted, type Failure, type Retry } from './attempt.ts';
import { backoff } from './backoff.ts';
import { Circuit, type CircuitOptions } from './circuit.ts';
import { claimDueMessages, makeDue, reclaimFromDeadWorkers, releaseClaims, releaseUnknownClaims, type ClaimedMessage } from './claim.ts';
import { TWILIO_UNSUBSCRIBED, withdrawUnsubscribed } from './delivery.ts';
import { messageMetrics as metrics } from './metrics.ts';
import { DispatcherSession } from './session.ts';
import { SendStarts } from './starts.ts';

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
  /** When a channel pauses, and how often a paused one is probed (circuit.ts). */
  circuit: CircuitOptions;
  /** Headers added to an email at send time, when its id is known (Reply-To, mailto unsubscribe). */
  emailHeaders?: (messageId: number, headers: Record<string, string>) => Record<string, string>;
}

/** When a message was due and its event came (from its claim), for the latency metrics of its acceptance. */
type Timing = Pick<ClaimedMessage, 'dueAt' | 'eventAt'>;

/** An outcome of a send on a channel, as it is recorded (or held until the database can take it). */
type Outcome = ({ sent: Accepted; timing: Timing } | { retry: Retry } | { failure: Failure }) & { channel: Channel };

/** A message its start did not send: suppressed (consent refused it then) or failed (erased). */
interface Refused {
  id: number;
  status: 'suppressed' | 'failed';
  reason: string;
}

/** A send that started: when, how many sends of the message that makes, and its confirmation (starts.ts). */
interface Started {
  at: Date;
  attempts: number;
  confirm(): Promise<void>;
}

/**
 * Sends what the outbox holds, until stopped. Lanes (as many as the channels take at once) pull
 * claimed messages from a local queue that is refilled by claiming due rows in batches; a
 * notification from a commit that queued messages wakes an idle dispatcher at once. Any number of
 * dispatchers may run against one database.
 *
 * Each send starts once its channel is ready to hand it over, with one statement (attempt.ts,
 * starts.ts) that reads consent as it is at that instant and marks the row attempted: a withdrawal
 * that committed before it stops the send. The mark commits once the provider took the envelope,
 * and the message is completed only after that, and after the lane's previous acceptance is on
 * record: after a crash, only the sends in flight are re-sent (and flagged). Outcomes are recorded
 * where they happen: `begin` (refused at the start), `recordAccepted` (accepted), `failed` (retry
 * or failure, through `record`) and `catchUp` (what the database could not take at once); all pass
 * through `recorded`.
 *
 * When the database goes away the dispatcher starts nothing, lets the sends in flight finish,
 * holds their outcomes, and records them first once its session is back. When a channel stops
 * answering, its circuit pauses it (circuit.ts) and its claimed messages go back untouched.
 */
export class Dispatcher {
  readonly worker = crypto.randomInt(1, 2 ** 31 - 1);
  private readonly session: DispatcherSession;
  private readonly circuits = new Map<Channel, Circuit>();
  private readonly starts: SendStarts;
  private running = false;
  private loop: Promise<void> | undefined;
  private queue: ClaimedMessage[] = [];
  private claiming: Promise<void> | undefined;
  /** Outcomes the database could not take when they happened; recorded before anything else. */
  private held: Outcome[] = [];
  /** Set when the session drops: claims whose answer was lost with it are handed back once it is up. */
  private unsure = false;
  private catchingUp: Promise<boolean> | undefined;
  /** Database errors in a row, for the backoff. */
  private troubles = 0;
  private readonly waiting = new Set<{ done: () => void; untilNotified: boolean }>();
  /** Set by a notification that may have raced a claim which could not yet see the new rows. */
  private notified = false;
  private lastReclaim = 0;
  private sentSinceLog = 0;
  private lanes = 1;

  constructor(private readonly options: DispatcherOptions) {
    this.session = new DispatcherSession({
      url: options.url,
      worker: this.worker,
      onNotify: () => {
        this.notified = true;
        this.wakeUp(true);
      },
      onChange: () => {
        this.unsure = true;
        this.wakeUp(false);
      },
    });
    this.starts = new SendStarts(options.pool, this.worker, options.clock);
    for (const [name, channel] of Object.entries(options.channels)) {
      this.circuits.set(name as Channel, new Circuit(channel, options.circuit, (pushedBack) => void this.resume(pushedBack)));
    }
  }

  async start(): Promise<void> {
    await this.session.open();
    this.running = true;
    this.lanes = Math.max(1, ...Object.values(this.options.channels).map((c) => c.concurrency));
    this.loop = Promise.all(Array.from({ length: this.lanes }, () => this.lane())).then(() => this.finish());
  }

  /** Stops claiming, lets in-flight sends finish and be recorded, hands back unsent claims. */
  async stop(): Promise<void> {
    this.running = false;
    this.wakeUp(false);
    // At once, not after the sends in flight: those may outlast the stop's timeout (engine.ts).
    await this.release(this.queue.splice(0));
    // Also at once: the connection of the transaction begun ahead must not keep the pool from closing.
    await this.starts.close();
    await this.loop;
    for (const circuit of this.circuits.values()) circuit.stop();
    await this.session.close();
  }

  private async lane(): Promise<void> {
    // The lane's last acceptance on its way into the database. The lane's next message is completed
    // only once it is there: of each lane, at most one message is ever accepted and not on record.
    let recording: Promise<void> = Promise.resolve();
    while (await this.ready()) {
      const message = this.queue.shift();
      if (!message) {
        this.starts.flush();
        await recording;
        await this.refill();
        continue;
      }
      // The next claim is made while the last messages of this one are sent: no lane waits for it.
      if (this.queue.length < this.lanes) void this.refill();
      const accepted = await this.send(message, recording);
      if (accepted) recording = this.recordAccepted(accepted, message);
    }
    this.starts.flush();
    await recording;
  }

  /** Whether to go on: waits while the session is down, then catches up on what it missed. */
  private async ready(): Promise<boolean> {
    while (this.running) {
      if (!this.session.up) await this.wait(60_000);
      else if ((this.held.length === 0 && !this.unsure) || (await this.catchUp())) return true;
    }
    return false;
  }

  /**
   * Sends `message` through its channel, which starts it (`begin`) once it is ready to hand it
   * over, and completes it once the start is on record and so is `previous` (the lane's last
   * acceptance). Returns its acceptance, or nothing: it did not start, or it failed (`failed`
   * records why).
   */
  private async send(message: ClaimedMessage, previous: Promise<void>): Promise<Accepted | undefined> {
    // Erased while claimed: the start finds no address and records it.
    if (message.toAddress === null) return void (await this.begin(message, previous));
    const channel = this.options.channels[message.channel]!;
    let started: Started | undefined;
    try {
      const sent = await channel.send(this.outgoing(message, message.toAddress), async () => {
        started = await this.begin(message, previous);
        return started?.confirm;
      });
      if (!sent) return undefined;
      this.circuits.get(message.channel)!.answered();
      return { id: message.id, startedAt: started!.at, providerId: sent.providerId };
    } catch (err) {
      if (!started) await this.unreachable(message, err);
      // A provider that failed before it asked for the body took the envelope: the start stands.
      else if (
        await started.confirm().then(
          () => true,
          () => false,
        )
      )
        await this.failed(message, started, err);
      // Else the start was never recorded, and the message is back in the queue.
      else await this.trouble(err);
      return undefined;
    }
  }

  private outgoing(message: ClaimedMessage, to: string): OutgoingMessage {
    const { emailHeaders } = this.options;
    return {
      id: message.id,
      to,
      subject: message.subject,
      html: message.bodyHtml,
      text: message.bodyText,
      headers: message.channel === 'email' && emailHeaders ? emailHeaders(message.id, message.headers) : message.headers,
    };
  }

  /**
   * Starts the send of `message` (starts.ts). Returns nothing when the message must not be sent:
   * refused at the start, no longer ours, its channel paused (then handed back), or the database
   * away (then back in the queue, to be started once it answers; for a send that may go, that
   * shows when it is confirmed). Its confirmation also waits for `previous`.
   */
  private async begin(message: ClaimedMessage, previous: Promise<void>): Promise<Started | undefined> {
    if (this.circuits.get(message.channel)!.open) {
      await this.release([message]);
      return undefined;
    }
    let confirming: Promise<void> | undefined;
    try {
      const { at, start, confirm } = await this.starts.start(message.id);
      const confirmed = () =>
        (confirming ??= Promise.all([confirm(), previous]).then(
          () => void (this.troubles = 0),
          (err: unknown) => {
            this.queue.unshift(message);
            throw err;
          },
        ));
      if (start.go) return { at, attempts: start.attempts, confirm: confirmed };
      await confirmed();
      if (start.status !== 'gone')
        this.recorded({ refused: { id: message.id, status: start.status, reason: start.reason }, channel: message.channel });
      return undefined;
    } catch (err) {
      if (!confirming) this.queue.unshift(message);
      await this.trouble(err);
      return undefined;
    }
  }

  /** Records an acceptance (with the next group of starts), or holds it; never rejects. */
  private recordAccepted(accepted: Accepted, { channel, dueAt, eventAt }: ClaimedMessage): Promise<void> {
    const outcome: Outcome = { sent: accepted, timing: { dueAt, eventAt }, channel };
    return this.starts.accept(accepted).then(
      () => {
        this.troubles = 0;
        this.recorded(outcome);
      },
      () => void this.held.push(outcome),
    );
  }

  /**
   * The channel could not take `message` and it never started (its row is untouched): it goes back
   * to the queue, to the next lane, unless this failure paused the channel.
   */
  private async unreachable(message: ClaimedMessage, err: unknown): Promise<void> {
    const error = errorMessage(err);
    log.warn('could not reach the channel', { message: message.id, channel: message.channel, error });
    this.queue.unshift(message);
    if (this.circuits.get(message.channel)!.failed(error)) await this.pause(message.channel);
  }

  private async failed(message: ClaimedMessage, started: Started, err: unknown): Promise<void> {
    const { maxAttempts, retryBaseMs = 30_000, clock } = this.options;
    const error = errorMessage(err);
    const failure = err instanceof SendError ? err : undefined;
    const circuit = this.circuits.get(message.channel)!;
    const base = { id: message.id, startedAt: started.at, error };
    const { channel } = message;
    log.warn('send failed', { message: message.id, attempt: started.attempts, error });
    if (failure?.channelFailure === 'unreachable') {
      // It never left: not an attempt, and due again at once (the circuit paces the channel).
      const opened = circuit.failed(error);
      await this.record({ retry: { ...base, retryAt: clock.now(), refund: true, possibleDuplicate: false }, channel });
      if (opened) await this.pause(message.channel);
      return;
    }
    const retryAt = new Date(clock.now().getTime() + backoff(started.attempts, retryBaseMs, 3_600_000));
    if (failure?.channelFailure === 'interrupted') {
      // The provider may hold a copy: the next send is flagged, and made due when the channel is back.
      const opened = circuit.failed(error, message.id);
      await this.record({ retry: { ...base, retryAt, refund: false, possibleDuplicate: true }, channel });
      if (opened) await this.pause(message.channel);
      return;
    }
    circuit.answered();
    if (failure?.permanent) {
      await this.record({ failure: { ...base, reason: 'rejected' }, channel });
      if (message.channel === 'sms' && failure.code === TWILIO_UNSUBSCRIBED) await this.withdrawUnsubscribed(message);
      if (message.channel === 'email' && failure.addressRefused) await this.addressRefused(message, error);
    } else if (started.attempts >= maxAttempts) {
      await this.record({ failure: { ...base, reason: 'attempts_exhausted' }, channel });
    } else {
      await this.record({ retry: { ...base, retryAt, refund: false, possibleDuplicate: false }, channel });
    }
  }

  private async withdrawUnsubscribed(message: ClaimedMessage): Promise<void> {
    const { pool, clock } = this.options;
    try {
      await withTransaction(pool, (client) =>
        withdrawUnsubscribed(client, message.leadId, message.purpose, `message:${message.id}`, clock.now()),
      );
    } catch (err) {
      log.error('recording a provider’s unsubscribe failed', { message: message.id, error: errorMessage(err) });
    }
  }

  /** A receiver refused the address for good: later messages to it are suppressed as bounced (deliverability/bounces.ts). */
  private async addressRefused(message: ClaimedMessage, reply: string): Promise<void> {
    try {
      await recordRefusedAddress(this.options.pool, message.id, reply, this.options.clock.now());
    } catch (err) {
      log.error('recording a refused address failed', { message: message.id, error: errorMessage(err) });
    }
  }

  /** Records an outcome now, or holds it until the database answers again. */
  private async record(outcome: Outcome): Promise<void> {
    try {
      await this.write([outcome]);
      this.troubles = 0;
    } catch (err) {
      this.held.push(outcome);
      await this.trouble(err);
    }
  }

  private async write(outcomes: Outcome[]): Promise<void> {
    const { pool } = this.options;
    await recordSent(
      pool,
      this.worker,
      outcomes.flatMap((o) => ('sent' in o ? [o.sent] : [])),
    );
    for (const o of outcomes) {
      if ('retry' in o) await recordRetry(pool, this.worker, o.retry);
      else if ('failure' in o) await recordFailure(pool, this.worker, o.failure);
    }
    for (const o of outcomes) this.recorded(o);
  }

  /** Every outcome passes here once it is in the database, a refusal at the start included. */
  private recorded(outcome: Outcome | { refused: Refused; channel: Channel }): void {
    const { channel } = outcome;
    if ('sent' in outcome) {
      this.sentSinceLog++;
      metrics.sent(channel);
      metrics.acceptanceRecorded(channel, { ...outcome.timing, sentAt: outcome.sent.startedAt });
    } else if ('retry' in outcome) metrics.retried(channel);
    else if ('failure' in outcome) metrics.failed(channel, outcome.failure.reason);
    else {
      const { status, reason } = outcome.refused;
      if (status === 'suppressed') metrics.suppressed(channel, reason);
      else metrics.failed(channel, reason);
      log.debug('not sent', { ...outcome.refused });
    }
  }

  /**
   * Once the database is back (at most one caller at a time): records the outcomes held while it was
   * away, and, after a cut session, hands back the claims this dispatcher never heard of. Each
   * outcome is recorded only on the row of the very send it names, so recording one twice, or one
   * whose message another dispatcher took back meanwhile, changes nothing.
   */
  private catchUp(): Promise<boolean> {
    this.catchingUp ??= (async () => {
      const held = this.held.splice(0);
      const unsure = this.unsure;
      this.unsure = false;
      try {
        await this.write(held);
        if (held.length > 0) log.info('recorded the outcomes held while the database was away', { outcomes: held.length });
        const released = unsure
          ? await releaseUnknownClaims(
              this.options.pool,
              this.worker,
              this.queue.map((m) => m.id),
            )
          : 0;
        if (released > 0) log.info('handed back claims whose answer was lost with the connection', { messages: released });
        this.troubles = 0;
        return true;
      } catch (err) {
        this.held.unshift(...held);
        this.unsure ||= unsure;
        await this.trouble(err);
        return false;
      }
    })().finally(() => (this.catchingUp = undefined));
    return this.catchingUp;
  }

  /** The next claims, one claim at a time; idles when nothing is due. */
  private async refill(): Promise<void> {
    this.claiming ??= this.claim().finally(() => (this.claiming = undefined));
    await this.claiming;
  }

  private async claim(): Promise<void> {
    const { pool, batchSize, clock, pollMs } = this.options;
    try {
      await this.reclaimIfDue();
      this.notified = false;
      const channels = [...this.circuits].filter(([, circuit]) => !circuit.open).map(([channel]) => channel);
      const batch = channels.length > 0 ? await claimDueMessages(pool, this.worker, batchSize, clock.now(), channels) : [];
      this.troubles = 0;
      if (batch.length > 0) {
        this.queue.push(...batch);
        return;
      }
      this.logSent();
      await this.wait(pollMs, true);
    } catch (err) {
      await this.trouble(err);
    }
  }

  private async reclaimIfDue(): Promise<void> {
    const client = this.session.client;
    if (!client || Date.now() - this.lastReclaim < this.options.pollMs * 5) return;
    this.lastReclaim = Date.now();
    const { requeued, flagged } = await reclaimFromDeadWorkers(client, this.worker, this.options.clock.now());
    if (requeued > 0)
      log.warn('re-queued messages of a dispatcher that died mid-send', { messages: requeued, possible_duplicates: flagged });
    metrics.possibleDuplicates(flagged);
  }

  /** A channel's circuit opened: its claimed messages go back, their sends never started. */
  private async pause(channel: Channel): Promise<void> {
    const idle = this.queue.filter((m) => m.channel === channel);
    this.queue = this.queue.filter((m) => m.channel !== channel);
    await this.release(idle);
  }

  /** A channel's circuit closed: what its outage pushed back is due now, and idle lanes wake. */
  private async resume(pushedBack: number[]): Promise<void> {
    try {
      await makeDue(this.options.pool, pushedBack, this.options.clock.now());
    } catch (err) {
      log.warn('could not make the retries of an outage due at once; they wait their backoff', { error: errorMessage(err) });
    }
    this.notified = true;
    this.wakeUp(true);
  }

  private async release(messages: ClaimedMessage[]): Promise<void> {
    if (messages.length === 0) return;
    try {
      await releaseClaims(
        this.options.pool,
        this.worker,
        messages.map((m) => m.id),
      );
    } catch (err) {
      this.queue.push(...messages);
      await this.trouble(err);
    }
  }

  /** Stopping: records what was held back and hands back unsent claims, if the database answers. */
  private async finish(): Promise<void> {
    const unsent = this.queue.splice(0);
    try {
      await this.write(this.held.splice(0));
      await releaseClaims(
        this.options.pool,
        this.worker,
        unsent.map((m) => m.id),
      );
    } catch (err) {
      // Other dispatchers take back what this one still holds once it is gone: unstarted messages
      // as they were, started ones flagged possible_duplicate.
      log.error('stopping without the database: what this dispatcher holds is left to the others', { error: errorMessage(err) });
    }
    this.logSent();
  }

  /** A statement failed (most likely the database is away): waits before the next try, longer each time. */
  private async trouble(err: unknown): Promise<void> {
    if (!this.running) return;
    if (this.troubles === 0) log.warn('dispatcher: the database did not answer; holding on and trying again', { error: errorMessage(err) });
    this.troubles++;
    await this.wait(backoff(this.troubles, 100, 1_000));
  }

  /** Waits `ms`, or less: until stopped, the session changes, or (`untilNotified`) messages are queued. */
  private wait(ms: number, untilNotified = false): Promise<void> {
    if (!this.running || (untilNotified && this.notified)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = {
        untilNotified,
        done: () => {
          clearTimeout(timer);
          this.waiting.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.done, ms);
      this.waiting.add(waiter);
    });
  }

  /** Ends waits: all of them, or (`notified`) those idling for queued messages. */
  private wakeUp(notified: boolean): void {
    for (const waiter of [...this.waiting]) if (!notified || waiter.untilNotified) waiter.done();
  }

  private logSent(): void {
    if (this.sentSinceLog === 0) return;
    const destinations = [...new Set(Object.values(this.options.channels).map((c) => c.destination))].join(', ');
    log.info(`sent ${this.sentSinceLog} message(s) to ${destinations}`);
    this.sentSinceLog = 0;
  }
}
