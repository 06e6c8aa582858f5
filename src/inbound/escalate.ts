import type pg from 'pg';
import { statement } from '../db/statement.ts';
import { withTransaction } from '../db/tx.ts';
import { recordContactEvent } from './history.ts';
import { notifyAgent } from './notify.ts';
import type { InboundRules } from './rules.ts';

const ESCALATE = statement(
  'inbound.escalate-overdue',
  `WITH queue_leads AS (SELECT * FROM unnest($2::text[], $3::text[]) AS q(queue, lead_email))
   UPDATE inbound_contacts c
      SET escalated_at = $1,
          escalated_to = (SELECT u.id FROM users u JOIN queue_leads q ON q.lead_email = u.email WHERE q.queue = c.queue AND u.disabled_at IS NULL)
    WHERE c.id IN (
      SELECT id FROM inbound_contacts
       WHERE status IN ('new', 'assigned') AND escalated_at IS NULL AND due_at <= $1 AND kind = 'human'
       FOR UPDATE SKIP LOCKED)
   RETURNING c.id, c.queue, c.escalated_to, (SELECT lead_email FROM queue_leads q WHERE q.queue = c.queue) AS lead_email`,
);

/**
 * Escalates, once each, the contacts nobody accepted before their due time, to their queue's lead,
 * and records it in the contact's history. Returns the ids escalated.
 */
export async function escalateOverdue(pool: pg.Pool, rules: InboundRules, now: Date): Promise<number[]> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ id: number; queue: string; escalated_to: number | null; lead_email: string | null }>(ESCALATE, [
      now,
      rules.queues.map((q) => q.id),
      rules.queues.map((q) => q.lead ?? null),
    ]);
    for (const row of rows) {
      await recordContactEvent(
        client,
        row.id,
        'escalated',
        'system',
        { to: row.escalated_to ? row.lead_email : null, queue: row.queue },
        now,
      );
      if (row.escalated_to)
        await notifyAgent(client, { key: `escalated:${row.id}`, userId: row.escalated_to, contactId: row.id, kind: 'escalated' }, now);
    }
    return rows.map((r) => r.id);
  });
}
