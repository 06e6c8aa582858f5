import { statement, type Queryable } from '../db/statement.ts';

/**
 * Satisfaction per queue, agent and campaign. A contact counts as surveyed once a survey message
 * about it was sent (a service message of a sequence started by its `contact_closed`) or once it
 * was answered (a link forwarded without a message still counts); the response rate is answered
 * over surveyed. Queue, agent and campaign are those stored with the answer, else the contact's.
 */
const REPORT = statement(
  'inbound.csat-report',
  `WITH surveyed AS (
     SELECT (ev.properties->>'contact')::bigint AS contact_id
       FROM events ev JOIN enrollments e ON e.trigger_event_id = ev.id JOIN messages m ON m.enrollment_id = e.id
      WHERE ev.name = 'contact_closed' AND ev.properties ? 'contact' AND m.purpose = 'service' AND m.status = 'sent'
     UNION SELECT contact_id FROM csat_answers
   ), answers AS (
     SELECT coalesce(a.queue, c.queue) AS queue, coalesce(a.agent_id, c.assignee_id) AS agent_id,
            coalesce(a.campaign_id, c.campaign_id) AS campaign_id, a.score
       FROM surveyed s JOIN inbound_contacts c ON c.id = s.contact_id LEFT JOIN csat_answers a ON a.contact_id = c.id
   )
   SELECT dimension, key, count(*)::int AS surveyed, count(score)::int AS answered, round(avg(score), 2)::float AS average,
          array[count(*) FILTER (WHERE score = 1), count(*) FILTER (WHERE score = 2), count(*) FILTER (WHERE score = 3),
                count(*) FILTER (WHERE score = 4), count(*) FILTER (WHERE score = 5)]::int[] AS distribution
     FROM (SELECT 'queue' AS dimension, queue AS key, score FROM answers
           UNION ALL SELECT 'agent', u.email, score FROM answers LEFT JOIN users u ON u.id = answers.agent_id
           UNION ALL SELECT 'campaign', campaign_id, score FROM answers) x
    GROUP BY dimension, key ORDER BY dimension, key NULLS LAST`,
);

export interface CsatLine {
  /** The queue id, the agent's login or the campaign id; null for contacts without one. */
  key: string | null;
  surveyed: number;
  answered: number;
  /** answered / surveyed, 0…1. */
  response_rate: number;
  /** Mean score of the answers; null without any. */
  average: number | null;
  /** How many answered 1, 2, 3, 4 and 5. */
  distribution: number[];
}

export type CsatReport = Record<'queue' | 'agent' | 'campaign', CsatLine[]>;

export async function csatReport(db: Queryable): Promise<CsatReport> {
  const { rows } = await db.query<Omit<CsatLine, 'response_rate'> & { dimension: keyof CsatReport }>(REPORT);
  const report: CsatReport = { queue: [], agent: [], campaign: [] };
  for (const { dimension, ...line } of rows) {
    report[dimension].push({ ...line, response_rate: Math.round((line.answered / line.surveyed) * 1000) / 1000 });
  }
  return report;
}
