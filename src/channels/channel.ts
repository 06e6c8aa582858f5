/** The ways we reach a person; consent, templates and messages are all per channel. */
export const CHANNELS = ['email', 'sms'] as const;
export type Channel = (typeof CHANNELS)[number];

/**
 * One small interface for every way a message leaves the engine. Adapters (SMTP and outbox for
 * email, Twilio and outbox for SMS) all pass the same contract suite in test/channels/.
 */
export interface OutgoingMessage {
  /** Our message id; adapters derive provider-visible ids from it so retries are recognisable. */
  id: number;
  to: string;
  subject: string;
  html: string;
  text: string;
  headers: Record<string, string>;
}

export interface ChannelAdapter {
  /** Adapter name as recorded with the provider id, e.g. `smtp` or `outbox`. */
  readonly name: string;
  /** Where messages go, for people reading logs: an SMTP host or the outbox folder. */
  readonly destination: string;
  /** How many sends the adapter handles at once (pool size for SMTP). */
  readonly concurrency: number;
  /**
   * Resolves with the provider's id once the provider has accepted the message; with `start` (see
   * StartSend), resolves nothing when the start says no. A failure before `start` is called is
   * always `unreachable`: the message never left.
   */
  send(message: OutgoingMessage, start?: StartSend): Promise<{ providerId: string } | undefined>;
  /** Resolves when the provider answers, without sending anything: how a paused channel learns it is back. */
  probe(): Promise<void>;
  /** Releases connections; pending sends finish first. */
  close(): Promise<void>;
}

/**
 * How a sender takes part in a send. The adapter calls it once it is ready to hand the message
 * over (for SMTP, on an open, idle connection); it resolves nothing when the message must not go,
 * else `confirm`. The adapter calls `confirm` once the provider has taken the envelope and waits
 * for the rest (SMTP: after MAIL FROM, RCPT TO and DATA, when the server asks for the body), or
 * right before it hands over a message it cannot split, and completes the message only if
 * `confirm` resolves; when it rejects, the message is abandoned and `send` rejects with its error.
 */
export type StartSend = () => Promise<(() => Promise<void>) | undefined>;

/**
 * A failure of the channel rather than of the message, which pauses the channel once it repeats
 * (messages/circuit.ts):
 * - `unreachable`: the provider could not be reached, or turned us away before taking the message
 *   (refused connection, a greeting or a 421 that says no): it certainly does not hold a copy;
 * - `interrupted`: the connection broke while the message was being handed over: it may.
 */
export type ChannelFailure = 'unreachable' | 'interrupted';

/** A failed send; `permanent` ones are recorded and never retried. `code` is the provider's. */
export class SendError extends Error {
  readonly code: string | undefined;
  /** Set when the channel failed, not this message (see ChannelFailure). */
  readonly channelFailure: ChannelFailure | undefined;
  /** The receiver refused the recipient's address for good (SMTP: a 5xx to RCPT TO): a hard bounce at send time. */
  readonly addressRefused: boolean;

  constructor(
    message: string,
    readonly permanent: boolean,
    options: { cause?: unknown; code?: string; channelFailure?: ChannelFailure; addressRefused?: boolean } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'SendError';
    this.code = options.code;
    this.channelFailure = options.channelFailure;
    this.addressRefused = options.addressRefused ?? false;
  }
}

/** The adapter configured for each channel. */
export type ChannelAdapters = Partial<Record<Channel, ChannelAdapter>>;
