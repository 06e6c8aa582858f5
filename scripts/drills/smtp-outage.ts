/**
 * SMTP outage drill: SIGKILL the SMTP server's process mid-send, keep it down for `--outage`,
 * start it again on the same port, and see what the outage cost.
 *
 *   npm run drill:smtp-outage -- [--n 20000] [--outage 30s] [--at 0.3] [--workers 3] [--latency 0ms] [--keep]
 *
 * The server goes down once `--at` of the recipients have been reached.
 *
 * Figures:
 * - failed attempts: the sum of every row's `attempts` less the rows sent (a sent row's last
 *   attempt succeeded, a failed or still queued row's attempts all failed). The server accepts
 *   everything it is given, so every failed attempt of this drill is the outage's.
 * - failed messages: rows `failed`, by reason; all of them failed because of the outage.
 * - backlog done after the return: from the moment the restarted server listens to the moment
 *   the drill first sees nothing queued or being sent (polled every 100 ms).
 * - duplicates are reported but not judged: a server killed between taking a message and sending
 *   its 250 holds a copy the client never heard of, which no client can avoid or flag.
 */
import { drill, duration } from './lib/drill.ts';
import { deliveryFigures, failures, outboxRows, round } from './lib/figures.ts';
import { sleep, until } from './lib/processes.ts';
import { now } from './lib/smtp-record.ts';

/** The bound on draining the backlog once the server is back. */
const DRAIN_WITHIN_MS = 30_000;

await drill(
  'smtp-outage',
  {
    outage: { type: 'string', default: '30s' },
    at: { type: 'string', default: '0.3' },
  },
  async ({ d, n, values, audience, runStartedAt, backlogDone, progress, remainingMs }) => {
    const outageMs = duration(values.outage as string);
    const threshold = Math.ceil(n * Number(values.at));
    await until(`${threshold} recipients reached`, () => (d.record.read().accepted >= threshold ? true : undefined), remainingMs(), 20);
    const reachedBefore = d.record.accepted;
    const downAt = now();
    await d.smtp.kill('SIGKILL');
    progress(`SMTP server killed at ${reachedBefore} recipients reached; down for ${outageMs} ms`);
    await sleep(outageMs);
    await d.startSmtp();
    const upAt = now();
    progress('SMTP server back');
    const doneAt = await backlogDone();

    const rows = await outboxRows(d);
    const delivery = deliveryFigures(rows, d.record, audience.consented, audience.unconsented);
    const attempts = rows.reduce((sum, r) => sum + r.attempts, 0);
    const failed = rows.filter((r) => r.status === 'failed');
    const drainMs = doneAt === undefined ? undefined : doneAt - upAt;
    return {
      figures: {
        outage_s: round((upAt - downAt) / 1000, 1),
        recipients_reached_before_outage: reachedBefore,
        failed_attempts: attempts - (delivery.figures.outbox_rows_by_status.sent ?? 0),
        failed_messages: failed.length,
        failure_reasons: failures(rows),
        last_error_example: failed[0]?.lastError ?? null,
        backlog_done: doneAt !== undefined,
        backlog_done_after_return_s: drainMs === undefined ? null : round(drainMs / 1000, 1),
        send_duration_s: round(((doneAt ?? now()) - runStartedAt) / 1000, 1),
        ...delivery.figures,
      },
      checks: {
        zero_lost: delivery.figures.lost === 0,
        zero_sent_to_non_consented: delivery.figures.sent_to_non_consented === 0,
        zero_failed_because_of_the_outage: failed.length === 0,
        backlog_done_within_30s_of_return: drainMs !== undefined && drainMs <= DRAIN_WITHIN_MS,
      },
    };
  },
);
