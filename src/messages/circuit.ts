import type { ChannelAdapter } from '../channels/channel.ts';
import { errorMessage } from '../errors.ts';
import { log } from '../log.ts';

const MAX_PUSHED_BACK = 10_000;

export interface CircuitOptions {
  /** Consecutive channel failures that pause the channel. */
  failures: number;
  /** How often a paused channel is probed. */
  probeMs: number;
}

/**
 * Pauses a channel whose provider stopped answering, so that an outage does not spend the attempts
 * of every queued message on it. `failures` consecutive channel failures (SendError.channelFailure)
 * open the circuit: the dispatcher stops claiming and starting messages of the channel. While it is
 * open the channel is probed every `probeMs` (ChannelAdapter.probe, which sends nothing), and the
 * first answer closes it. Messages whose retry a channel failure pushed back are handed to
 * `onClose`, to be made due at once: nobody waits out a backoff for an outage that is over.
 */
export class Circuit {
  private consecutive = 0;
  private readonly pushedBack = new Set<number>();
  private probing: NodeJS.Timeout | undefined;
  private stopped = false;
  private paused = false;

  constructor(
    private readonly channel: ChannelAdapter,
    private readonly options: CircuitOptions,
    private readonly onClose: (pushedBack: number[]) => void,
  ) {}

  /** Whether the channel is paused. */
  get open(): boolean {
    return this.paused;
  }

  /** The provider answered, accepting or refusing a message: the failures before it were no outage. */
  answered(): void {
    if (!this.paused) this.consecutive = 0;
  }

  /**
   * The channel failed, not the message; `pushedBack` is a message now waiting out a backoff.
   * Returns whether this failure opened the circuit.
   */
  failed(error: string, pushedBack?: number): boolean {
    if (pushedBack !== undefined) this.remember(pushedBack);
    if (this.paused || ++this.consecutive < this.options.failures) return false;
    this.paused = true;
    log.warn(`pausing the ${this.channel.name} channel: ${this.consecutive} sends in a row could not reach ${this.channel.destination}`, {
      error,
      probe_every_ms: this.options.probeMs,
    });
    this.scheduleProbe();
    return true;
  }

  /**
   * Keeps a pushed-back message until the circuit next closes, even across answers: an outage
   * often begins with a few sends cut while others still get through. Bounded, as a channel that
   * never pauses never hands them over (making a message due that has gone since changes nothing).
   */
  private remember(id: number): void {
    if (this.pushedBack.size >= MAX_PUSHED_BACK) this.pushedBack.delete(this.pushedBack.values().next().value!);
    this.pushedBack.add(id);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.probing);
  }

  private scheduleProbe(): void {
    if (!this.stopped) this.probing = setTimeout(() => void this.probe(), this.options.probeMs);
  }

  private async probe(): Promise<void> {
    try {
      await this.channel.probe();
    } catch (err) {
      log.debug(`${this.channel.name} channel still unreachable`, { error: errorMessage(err) });
      this.scheduleProbe();
      return;
    }
    if (this.stopped) return;
    this.paused = false;
    this.consecutive = 0;
    const pushedBack = [...this.pushedBack];
    this.pushedBack.clear();
    log.info(`resuming the ${this.channel.name} channel: ${this.channel.destination} answers again`, { made_due: pushedBack.length });
    this.onClose(pushedBack);
  }
}
