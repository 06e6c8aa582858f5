/**
 * Withdrawal race drill: post `--withdrawals` consent withdrawals to the API during the send and
 * look for messages that went out after their person's withdrawal, and for sent rows whose
 * recorded authority the ledger contradicts.
 *
 *   npm run drill:withdraw-race -- [--n 20000] [--withdrawals 1000] [--sample 200] [--workers 3] [--latency 0ms] [--keep]
 *
 * Once sending has begun, the withdrawals are spread evenly over the next 70% of the send's
 * progress, each for a person picked at random among those the SMTP server has not seen a message
 * for yet (the people a withdrawal can still protect).
 * Each is `POST /api/v1/consents {action: withdraw}` with a marketer key; its answer time is kept.
 *
 * Figures:
 * - sends started after the withdrawal: SMTP transactions (MAIL FROM, accepted or not) for the
 *   person that began after the withdrawal's HTTP answer was received. The answer comes after
 *   the commit, so each of these certainly started after the withdrawal committed; a send started
 *   between the commit and the answer cannot be told from outside and is not counted.
 * - accepted after the withdrawal: copies the SMTP server accepted after that answer, with the
 *   delay (what the issue reported; a send started before the commit may end after the answer).
 * - authorising event disagrees: for every sent row of a withdrawn person, and a random sample of
 *   `--sample` other sent rows, the API's as-of check (`GET /api/v1/consents/check`, the service
 *   `touchpoint consent check --at` calls) at the row's `sent_at` (to the millisecond, as the
 *   API and the CLI take it) must allow the message on the strength of the very event the row
 *   names in consent_event_id. Rows mailed before their withdrawal was even answered are counted
 *   apart: the withdrawal's occurred_at (taken when its request is handled, before its commit)
 *   falls before the row's sent_at (taken when the acceptance is recorded, after the send), so the
 *   ledger says withdrawn at sent_at although the send went out under the confirmation.
 */
import { count, drill } from './lib/drill.ts';
import { deliveryFigures, outboxRows, round, spread, type OutboxRow } from './lib/figures.ts';
import { until } from './lib/processes.ts';
import type { Deployment } from './lib/deployment.ts';
import { now } from './lib/smtp-record.ts';

interface Withdrawal {
  to: string;
  lead: string;
  postedAt: number;
  answeredAt: number;
  status: number | string;
}

await drill(
  'withdraw-race',
  {
    withdrawals: { type: 'string', default: '1000' },
    sample: { type: 'string', default: '200' },
  },
  async ({ d, n, values, audience, runStartedAt, backlogDone, progress, remainingMs }, keys) => {
    const total = count(values.withdrawals as string, 'withdrawals');
    const sampleSize = count(values.sample as string, 'sample');

    // Paced by the send's progress: withdrawal i goes out once `first + i * step` recipients are reached.
    const first = Math.max(1, Math.ceil(n * 0.02));
    const step = (0.7 * (n - first)) / Math.max(1, total);
    progress(`posting ${total} withdrawals, one every ${step.toFixed(1)} recipients reached from ${first} on`);

    // In random order; a person skipped because they were reached stays reached.
    const candidates = shuffle([...audience.consented]);
    let next = 0;
    const withdrawn = new Set<string>();
    const withdrawals: Withdrawal[] = [];
    const posts: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      await until(
        `${Math.ceil(first + i * step)} recipients reached`,
        () => (d.record.read().accepted >= first + i * step ? true : undefined),
        remainingMs(),
        10,
      );
      const reached = d.record.firstAccepted;
      while (next < candidates.length && reached.has(candidates[next]!)) next++;
      const to = candidates[next++];
      if (!to) break;
      withdrawn.add(to);
      posts.push(withdraw(d, keys.marketer, to, audience.externalId.get(to)!).then((w) => void withdrawals.push(w)));
    }
    await Promise.all(posts);
    progress(`${withdrawals.length} withdrawals answered; waiting for the backlog`);
    const doneAt = await backlogDone();

    const rows = await outboxRows(d);
    const delivery = deliveryFigures(
      rows,
      d.record,
      audience.consented.filter((to) => !withdrawn.has(to)),
      audience.unconsented,
    );
    const transactions = d.record.transactionsByRecipient();
    const startedAfter = withdrawals.filter((w) => (transactions.get(w.to) ?? []).some((t) => t.mailAt > w.answeredAt));
    const acceptedAfter = withdrawals.flatMap((w) =>
      (delivery.copies.get(w.to) ?? []).filter((c) => c.at > w.answeredAt).map((c) => c.at - w.answeredAt),
    );

    const sent = rows.filter((r) => r.status === 'sent');
    const checked = [...sent.filter((r) => withdrawn.has(r.to)), ...shuffle(sent.filter((r) => !withdrawn.has(r.to))).slice(0, sampleSize)];
    progress(`checking the authorising event of ${checked.length} sent rows as of their sent_at`);
    const answeredAt = new Map(withdrawals.map((w) => [w.to, w.answeredAt]));
    const disagreements = (await mapLimit(checked, 8, (row) => asOfDisagreement(d, keys.compliance, row)))
      .filter((x) => x !== undefined)
      .map((x) => ({ ...x, mailedBeforeAnswer: (delivery.copies.get(x.to)?.[0]?.at ?? Infinity) < (answeredAt.get(x.to) ?? -Infinity) }));

    return {
      figures: {
        withdrawals_posted: withdrawals.length,
        withdrawals_refused: withdrawals.filter((w) => w.status !== 201).length,
        withdrawal_answer_ms: spread(withdrawals.map((w) => w.answeredAt - w.postedAt)),
        withdrawn_people_never_mailed: withdrawals.filter((w) => !delivery.copies.has(w.to)).length,
        sends_started_after_withdrawal_answer: startedAfter.length,
        accepted_after_withdrawal_answer: acceptedAfter.length,
        accepted_after_withdrawal_answer_delay_ms: spread(acceptedAfter),
        sent_rows_checked_as_of_sent_at: checked.length,
        authorising_event_disagrees: disagreements.length,
        // Of those, rows whose copy was accepted before the withdrawal was answered (see above).
        authorising_event_disagrees_mailed_before_answer: disagreements.filter((x) => x.mailedBeforeAnswer).length,
        authorising_event_disagrees_examples: disagreements.slice(0, 3).map(({ to: _to, mailedBeforeAnswer: _m, ...x }) => x),
        backlog_done: doneAt !== undefined,
        send_duration_s: round(((doneAt ?? now()) - runStartedAt) / 1000, 1),
        ...delivery.figures,
      },
      checks: {
        every_withdrawal_answered_201: withdrawals.every((w) => w.status === 201),
        zero_sends_started_after_the_withdrawal: startedAfter.length === 0,
        every_authorising_event_agrees_with_the_as_of_check: disagreements.length === 0,
        zero_lost: delivery.figures.lost === 0,
        zero_sent_to_non_consented: delivery.figures.sent_to_non_consented === 0,
      },
    };
  },
  async (d: Deployment) => ({
    marketer: (await d.cli(['keys', 'create', '--role', 'marketer', '--name', 'drill marketer'])).trim(),
    compliance: (await d.cli(['keys', 'create', '--role', 'compliance', '--name', 'drill compliance'])).trim(),
  }),
);

async function withdraw(d: Deployment, key: string, to: string, lead: string): Promise<Withdrawal> {
  const postedAt = now();
  const res = await fetch(d.url('/api/v1/consents'), {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ lead, channel: 'email', purpose: 'marketing', action: 'withdraw', source: 'fault-drill' }),
    signal: AbortSignal.timeout(30_000),
  }).catch((err: Error) => err);
  const answeredAt = now();
  if (res instanceof Error) return { to, lead, postedAt, answeredAt, status: res.message };
  await res.arrayBuffer();
  return { to, lead, postedAt, answeredAt, status: res.status };
}

interface Disagreement {
  to: string;
  lead: string;
  sent_at: string | null;
  recorded_authority?: number | null;
  as_of: string;
  deciding_event?: number | null;
}

/** What the as-of check says of a sent row, when it does not back the row's recorded authority. */
async function asOfDisagreement(d: Deployment, key: string, row: OutboxRow): Promise<Disagreement | undefined> {
  const query = new URLSearchParams({ lead: row.externalId, channel: 'email', purpose: 'marketing', at: row.sentAt! });
  const res = await fetch(d.url(`/api/v1/consents/check?${query}`), {
    headers: { authorization: `Bearer ${key}` },
    signal: AbortSignal.timeout(30_000),
  });
  if (res.status !== 200) return { to: row.to, lead: row.externalId, sent_at: row.sentAt, as_of: `HTTP ${res.status}` };
  const answer = (await res.json()) as { allowed: boolean; status: string; deciding_event: { id: number } | null };
  if (answer.allowed && answer.deciding_event?.id === row.consentEventId) return undefined;
  return {
    to: row.to,
    lead: row.externalId,
    sent_at: row.sentAt,
    recorded_authority: row.consentEventId,
    as_of: answer.status,
    deciding_event: answer.deciding_event?.id ?? null,
  };
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Maps with at most `limit` calls in flight. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
}
