import fs from 'node:fs';

/** One line of the SMTP server's record (see smtp-server.ts). */
export type SmtpEvent = SmtpTransaction | { event: 'closed'; at: number; session: string };

/** A transaction: accepted (its 250 about to be sent) or aborted (cut by the connection closing). */
export interface SmtpTransaction {
  event: 'accepted' | 'aborted';
  /** When the 250 was about to be sent (accepted), or when the connection closed (aborted). */
  at: number;
  session: string;
  /** When the transaction started (MAIL FROM). */
  mailAt: number;
  /** The recipient, lower-cased; null when the transaction was cut before RCPT TO. */
  to: string | null;
  messageId: string | null;
}

/** Epoch milliseconds with sub-millisecond precision, the same clock in every process. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * The drill's view of the SMTP server's record file, read incrementally: it keeps growing while
 * the drill runs, and outlives the server process when a drill kills it.
 */
export class SmtpRecord {
  readonly events: SmtpEvent[] = [];
  /** Recipients with at least one accepted copy, and when the first one was accepted. */
  readonly firstAccepted = new Map<string, number>();
  private offset = 0;
  private partial = '';

  constructor(private readonly file: string) {}

  get accepted(): number {
    return this.firstAccepted.size;
  }

  /** Reads what was appended since the last call. */
  read(): this {
    if (!fs.existsSync(this.file)) return this;
    const fd = fs.openSync(this.file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= this.offset) return this;
      const buffer = Buffer.alloc(size - this.offset);
      fs.readSync(fd, buffer, 0, buffer.length, this.offset);
      this.offset = size;
      const lines = (this.partial + buffer.toString('utf8')).split('\n');
      this.partial = lines.pop()!;
      for (const line of lines) {
        if (!line) continue;
        const event = JSON.parse(line) as SmtpEvent;
        this.events.push(event);
        if (event.event === 'accepted' && event.to && !this.firstAccepted.has(event.to)) this.firstAccepted.set(event.to, event.at);
      }
      return this;
    } finally {
      fs.closeSync(fd);
    }
  }

  transactions(): SmtpTransaction[] {
    return this.events.filter((e) => e.event !== 'closed');
  }

  acceptedCopies(): SmtpTransaction[] {
    return this.transactions().filter((e) => e.event === 'accepted');
  }

  /** Every transaction that reached RCPT TO, accepted or cut, per recipient. */
  transactionsByRecipient(): Map<string, SmtpTransaction[]> {
    return groupBy(
      this.transactions().filter((e) => e.to !== null),
      (e) => e.to!,
    );
  }

  /** The transactions of each connection, in order. */
  transactionsBySession(): Map<string, SmtpTransaction[]> {
    return groupBy(this.transactions(), (e) => e.session);
  }
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}
