import { statement, type Queryable } from '../db/statement.ts';

/**
 * How each queue kept its service level over a period, for queue leads and admins: of the contacts
 * people wrote (not automatic replies) received in the period, how long the first response took
 * (until the contact was accepted or first answered: the clock the due time is set against) and
 * the resolution (until closed), as median and 90th percentile in minutes, and how many missed
 * their due time (answered late, or still unanswered past it now).
 */
export interface QueueServiceLevel {
  queue: string;
  contacts: number;
  first_response: Durations;
  resolution: Durations;
  /** Answered after their due time, or unanswered and past it at the end of the period. */
  breaches: number;
  /** Not yet answered (accepted or replied to). */
  unanswered: number;
  /** Not yet closed. */
  open: number;
}

/** Minutes, over the contacts that got there; null when none did. */
export interface Durations {
  count: number;
  median_minutes: number | null;
  p90_minutes: number | null;
}

const REPORT = statement(
  'inbound.service-levels',
  `SELECT q.queue,
          count(c.id)::int AS contacts,
          count(c.accepted_at)::int AS first_count,
          percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.accepted_at - c.received_at) / 60) AS first_median,
          percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM c.accepted_at - c.received_at) / 60) AS first_p90,
          count(c.closed_at)::int AS closed_count,
          percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.closed_at - c.received_at) / 60) AS resolution_median,
          percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM c.closed_at - c.received_at) / 60) AS resolution_p90,
          (count(*) FILTER (WHERE c.due_at < coalesce(c.accepted_at, $3)))::int AS breaches,
          (count(*) FILTER (WHERE c.id IS NOT NULL AND c.accepted_at IS NULL))::int AS unanswered,
          (count(*) FILTER (WHERE c.id IS NOT NULL AND c.closed_at IS NULL))::int AS open
     FROM unnest($1::text[]) AS q(queue)
     LEFT JOIN inbound_contacts c ON c.queue = q.queue AND c.kind = 'human' AND c.received_at >= $2 AND c.received_at < $3
    GROUP BY q.queue
    ORDER BY array_position($1::text[], q.queue)`,
);

interface Row {
  queue: string;
  contacts: number;
  first_count: number;
  first_median: number | null;
  first_p90: number | null;
  closed_count: number;
  resolution_median: number | null;
  resolution_p90: number | null;
  breaches: number;
  unanswered: number;
  open: number;
}

const minutes = (value: number | null) => (value === null ? null : Math.round(Number(value) * 10) / 10);

/** The service levels of these queues for contacts received in [from, to). */
export async function serviceLevels(db: Queryable, queues: string[], period: { from: Date; to: Date }): Promise<QueueServiceLevel[]> {
  const { rows } = await db.query<Row>(REPORT, [queues, period.from, period.to]);
  return rows.map((r) => ({
    queue: r.queue,
    contacts: r.contacts,
    first_response: { count: r.first_count, median_minutes: minutes(r.first_median), p90_minutes: minutes(r.first_p90) },
    resolution: { count: r.closed_count, median_minutes: minutes(r.resolution_median), p90_minutes: minutes(r.resolution_p90) },
    breaches: r.breaches,
    unanswered: r.unanswered,
    open: r.open,
  }));
}
