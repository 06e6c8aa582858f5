import type { Channel } from '../channels/channel.ts';
import { statement, type Queryable } from '../db/statement.ts';
import { counter, histogram, LATENCY_BUCKETS } from '../metrics.ts';

/**
 * What /metrics says about messages: counters updated where an outcome happens (recording,
 * claiming, sending), latency histograms observed once an acceptance is recorded (no query: the
 * claim read what they need), and the outbox
 * gauges, read from the partial indexes on queued and claimed rows so that a scrape costs the same
 * at a million messages as at ten.
 */
const outcomes = counter(
  'touchpoint_messages_total',
  'Messages that reached an outcome, by channel: sent (accepted by the provider), failed or suppressed (with the reason).',
  ['channel', 'outcome', 'reason'],
);
const queued = counter('touchpoint_messages_queued_total', 'Messages recorded to be sent, by channel.', ['channel']);
const retries = counter('touchpoint_message_retries_total', 'Sends that failed for a passing reason and were queued again, by channel.', [
  'channel',
]);
const duplicates = counter(
  'touchpoint_messages_possible_duplicates_total',
  'Messages queued again after their dispatcher died while sending them; each is flagged possible_duplicate.',
);
const dispatchLatency = histogram(
  'touchpoint_message_dispatch_latency_seconds',
  'From the time a message was due (due_at: its send time, or the time of its retry) to the record of its acceptance by the provider (sent_at), by channel.',
  ['channel'],
  LATENCY_BUCKETS,
);
const eventToSend = histogram(
  'touchpoint_event_to_send_seconds',
  'From the arrival of an event (received_at) to the record of the acceptance of the first message it triggered (sent_at), by channel.',
  ['channel'],
  LATENCY_BUCKETS,
);

const seconds = (from: Date, to: Date) => Math.max(0, (to.getTime() - from.getTime()) / 1000);

/** The calls the send path makes where an outcome happens; each counts one message. */
export const messageMetrics = {
  /** Rows a recording created (runs, sequences, answers, confirmations), as `recordMessages` returns them. */
  recorded(rows: { channel: Channel; status: string; reason: string | null }[]): void {
    for (const row of rows) {
      if (row.status === 'queued') queued.inc({ channel: row.channel });
      else outcomes.inc({ channel: row.channel, outcome: row.status, reason: row.reason ?? 'unknown' });
    }
  },
  /** The provider accepted a message. */
  sent(channel: Channel): void {
    outcomes.inc({ channel, outcome: 'sent', reason: '' });
  },
  failed(channel: Channel, reason: string): void {
    outcomes.inc({ channel, outcome: 'failed', reason });
  },
  /** Stopped before its send started: by a withdrawal, or refused by consent when its send was to start. */
  suppressed(channel: Channel, reason: string): void {
    outcomes.inc({ channel, outcome: 'suppressed', reason });
  },
  retried(channel: Channel): void {
    retries.inc({ channel });
  },
  possibleDuplicates(count: number): void {
    duplicates.inc(count);
  },
  /**
   * Observes the latencies of a message whose acceptance was just recorded, from what its claim
   * read (when it was due, when its event arrived) and the instant its send started (its sent_at).
   */
  acceptanceRecorded(channel: Channel, times: { dueAt: Date; eventAt: Date | null; sentAt: Date }): void {
    dispatchLatency.observe({ channel }, seconds(times.dueAt, times.sentAt));
    if (times.eventAt) eventToSend.observe({ channel }, seconds(times.eventAt, times.sentAt));
  },
};

/**
 * Queued rows are counted exactly up to this many: an index-only scan of the partial index on
 * queued rows reads about ten million entries a second, so a count stays within ~25 ms however
 * large the backlog (counting a whole million took 75 ms). A gauge at the cap means "at least".
 */
export const OUTBOX_COUNT_CAP = 200_000;

const OUTBOX = statement(
  'messages.outbox-gauges',
  `SELECT (SELECT count(*) FROM (SELECT 1 FROM messages WHERE status = 'queued' AND due_at <= $1 LIMIT $2) due) AS due,
          (SELECT count(*) FROM (SELECT 1 FROM messages WHERE status = 'queued' AND due_at > $1 LIMIT $2) later) AS scheduled,
          (SELECT count(*) FROM messages WHERE status = 'sending') AS sending,
          (SELECT min(due_at) FROM messages WHERE status = 'queued') AS "oldestDue"`,
);

export interface OutboxGauges {
  /** Queued and due: waiting for a dispatcher (up to OUTBOX_COUNT_CAP). */
  due: number;
  /** Queued for later: a send window, a wait, a retry (up to OUTBOX_COUNT_CAP). */
  scheduled: number;
  /** Claimed by a dispatcher, being sent. */
  sending: number;
  /** How long the oldest due message has waited; 0 when none is due. */
  oldestDueAgeSeconds: number;
}

/** The outbox for /metrics, from the partial indexes on queued and claimed rows (never a scan of the table). */
export async function outboxGauges(db: Queryable, now: Date): Promise<OutboxGauges> {
  const { rows } = await db.query<Omit<OutboxGauges, 'oldestDueAgeSeconds'> & { oldestDue: Date | null }>(OUTBOX, [now, OUTBOX_COUNT_CAP]);
  const { oldestDue, ...counts } = rows[0]!;
  return { ...counts, oldestDueAgeSeconds: oldestDue ? seconds(oldestDue, now) : 0 };
}
