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
  /** Resolves with the provider's id once the provider has accepted the message. */
  send(message: OutgoingMessage): Promise<{ providerId: string }>;
  /** Releases connections; pending sends finish first. */
  close(): Promise<void>;
}

/** A failed send; `permanent` ones are recorded and never retried. `code` is the provider's. */
export class SendError extends Error {
  readonly code: string | undefined;

  constructor(
    message: string,
    readonly permanent: boolean,
    options: { cause?: unknown; code?: string } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'SendError';
    this.code = options.code;
  }
}

/** The adapter configured for each channel. */
export type ChannelAdapters = Partial<Record<Channel, ChannelAdapter>>;
