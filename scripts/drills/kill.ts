/**
 * Kill drill: SIGKILL a random worker during the send, `--kills` times, each restarted after a
 * moment; then count what was lost, sent twice, and flagged.
 *
 *   npm run drill:kill -- [--n 20000] [--kills 20] [--restart-after 500ms] [--workers 3] [--latency 0ms] [--keep]
 *
 * Kills are spread over the send by progress: kill k comes when k/(kills+1) of the recipients have
 * been reached, and hits a worker holding connections to the SMTP server (one that is sending,
 * not one still starting).
 * Right after each kill the drill notes which rows are still `sending` (not recorded as sent).
 *
 * Figures:
 * - connections cut by a kill: SMTP connections that closed within a second of the kill (and
 *   before the next one). Only a killed process drops its connections then.
 * - in flight at a kill: the last transaction of each connection the kill cut, when its outcome
 *   had not reached the database: either cut itself (MAIL FROM seen, no 250 sent: `open`), or
 *   accepted while its row was still `sending` right after the kill (the worker may not even have
 *   read the 250: `unrecorded`). An earlier transaction on the same connection is not in flight:
 *   the worker sent the next MAIL FROM after it, so it had the 250 in hand.
 * - duplicates of a kill: messages the SMTP server accepted twice whose first copy came over a
 *   connection that kill cut. `duplicates_of_acknowledged_sends` counts those whose first copy was
 *   not the last transaction of its connection (the worker knew of the acceptance and lost it).
 * - flagged but never attempted: rows marked possible_duplicate for which the SMTP server saw at
 *   most one transaction reaching RCPT TO, accepted or cut, over the whole drill. That one is the
 *   re-send after the reclaim, so the killed worker never started one for the row (it was claimed
 *   and waiting in memory). A row whose transaction the kill cut has two and is rightly flagged.
 */
import { count, drill, duration } from './lib/drill.ts';
import { deliveryFigures, outboxRows, round, spread } from './lib/figures.ts';
import { connectionsTo, sleep, until } from './lib/processes.ts';
import { CAMPAIGN } from './lib/seed.ts';
import { now, type SmtpTransaction } from './lib/smtp-record.ts';

/** How long after a kill the SMTP server may take to see the killed worker's connections close. */
const CUT_WINDOW_MS = 1_000;

interface Kill {
  at: number;
  worker: string;
  /** Recipients whose rows were still `sending` right after the kill. */
  unrecorded: Set<string>;
}

await drill(
  'kill',
  {
    kills: { type: 'string', default: '20' },
    'restart-after': { type: 'string', default: '500ms' },
  },
  async ({ d, n, values, audience, runStartedAt, backlogDone, progress, remainingMs }) => {
    const kills = count(values.kills as string, 'kills');
    const restartAfter = duration(values['restart-after'] as string);

    let finished = false;
    const done = backlogDone().finally(() => (finished = true));
    const killed: Kill[] = [];
    const restarts: Promise<void>[] = [];
    for (let k = 1; k <= kills && !finished; k++) {
      const threshold = Math.ceil((n * k) / (kills + 1));
      const victims = await until(
        `kill ${k}: ${threshold} recipients reached and a worker connected to the SMTP server`,
        () => {
          if (finished) return [];
          if (d.record.read().accepted < threshold) return undefined;
          const up = d.workers.filter((w) => w.alive && connectionsTo(w.pid!, d.smtpPort) > 0);
          return up.length > 0 ? up : undefined;
        },
        remainingMs(),
        20,
      );
      const victim = victims[Math.floor(Math.random() * victims.length)];
      if (!victim) break;
      const at = now();
      await victim.kill('SIGKILL');
      const sending = await d.db.query<{ to: string }>(
        `SELECT lower(to_address) AS "to" FROM messages WHERE campaign_id = $1 AND status = 'sending'`,
        [CAMPAIGN],
      );
      killed.push({ at, worker: victim.name, unrecorded: new Set(sending.map((r) => r.to)) });
      progress(`kill ${k}/${kills}: ${victim.name} at ${d.record.accepted} recipients reached`);
      restarts.push(sleep(restartAfter).then(() => void victim.start()));
    }
    const doneAt = await done;
    await Promise.all(restarts);

    const delivery = deliveryFigures(await outboxRows(d), d.record, audience.consented, audience.unconsented);
    const bySession = d.record.transactionsBySession();
    const closed = d.record.events.filter((e) => e.event === 'closed');
    const duplicates = [...delivery.duplicated.values()];
    const perKill = killed.map((kill, i) => {
      const windowEnd = Math.min(kill.at + CUT_WINDOW_MS, killed[i + 1]?.at ?? Infinity);
      const cut = new Set(closed.filter((e) => e.at >= kill.at && e.at < windowEnd).map((e) => e.session));
      const last = [...cut].map((session) => bySession.get(session)?.at(-1)).filter((t) => t !== undefined);
      const open = last.filter((t) => t.event === 'aborted');
      const unrecorded = last.filter((t) => t.event === 'accepted' && kill.unrecorded.has(t.to!));
      const mine = duplicates.filter((copies) => cut.has(copies[0]!.session));
      return {
        at_s: round((kill.at - runStartedAt) / 1000, 1),
        worker: kill.worker,
        connections_cut: cut.size,
        in_flight: open.length + unrecorded.length,
        open: open.length,
        unrecorded: unrecorded.length,
        duplicates: mine.length,
        duplicates_of_acknowledged_sends: mine.filter((copies) => !isLastOf(copies[0]!, bySession)).length,
      };
    });
    const attributed = perKill.reduce((sum, k) => sum + k.duplicates, 0);
    const transactions = d.record.transactionsByRecipient();
    const flagged = delivery.rows.filter((r) => r.flagged);
    const neverAttempted = flagged.filter((r) => (transactions.get(r.to)?.length ?? 0) <= 1);

    return {
      figures: {
        kills: killed.length,
        send_duration_s: round(((doneAt ?? now()) - runStartedAt) / 1000, 1),
        backlog_done: doneAt !== undefined,
        ...delivery.figures,
        flagged_never_attempted: neverAttempted.length,
        flagged_attempted: flagged.length - neverAttempted.length,
        in_flight_per_kill: spread(perKill.map((k) => k.in_flight)),
        duplicates_per_kill: spread(perKill.map((k) => k.duplicates)),
        kills_with_more_duplicates_than_in_flight: perKill.filter((k) => k.duplicates > k.in_flight).length,
        duplicates_of_acknowledged_sends: perKill.reduce((sum, k) => sum + k.duplicates_of_acknowledged_sends, 0),
        duplicates_not_attributed_to_a_kill: duplicates.length - attributed,
        per_kill: perKill,
      },
      checks: {
        backlog_done: doneAt !== undefined,
        zero_lost: delivery.figures.lost === 0,
        zero_sent_to_non_consented: delivery.figures.sent_to_non_consented === 0,
        every_duplicate_flagged: delivery.figures.duplicates_not_flagged === 0,
        duplicates_per_kill_at_most_in_flight: perKill.every((k) => k.duplicates <= k.in_flight) && attributed === duplicates.length,
        no_row_flagged_that_was_never_attempted: neverAttempted.length === 0,
      },
    };
  },
);

/** Whether a transaction was the last its connection carried. */
function isLastOf(transaction: SmtpTransaction, bySession: Map<string, SmtpTransaction[]>): boolean {
  return bySession.get(transaction.session)?.at(-1) === transaction;
}
