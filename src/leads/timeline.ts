import { statement, type Queryable } from '../db/statement.ts';
import { inReachSql, type Reach } from '../inbound/reach.ts';

export interface TimelineEntry {
  at: Date;
  kind: 'event' | 'message' | 'consent' | 'reply';
  /** Event name, `campaign/step` of a message, the consent action, or the channel of a reply. */
  what: string;
  detail: Record<string, unknown>;
}

/** A reply's words (subject and text) are shown only when $3 says replies may be read at all and the contact is within reach ($4, $5). */
const READABLE = `$3::boolean AND ${inReachSql('$4', '$5')}`;

const TIMELINE = statement(
  'leads.timeline',
  `SELECT * FROM (
     SELECT occurred_at AS at, 'event' AS kind, name AS what, jsonb_build_object('properties', properties) AS detail
       FROM events WHERE lead_id = $1
     UNION ALL
     SELECT coalesce(sent_at, due_at) AS at, 'message', campaign_id || '/' || step_id,
            jsonb_build_object('channel', channel, 'status', status, 'reason', reason, 'error', last_error,
                               'subject', subject, 'template', template)
       FROM messages WHERE lead_id = $1
     UNION ALL
     SELECT occurred_at, 'consent', action, jsonb_build_object('channel', channel, 'purpose', purpose, 'source', source)
       FROM consent_events WHERE lead_id = $1
     UNION ALL
     SELECT c.received_at, 'reply', c.channel,
            jsonb_build_object('contact', c.id, 'kind', c.kind, 'category', c.category, 'status', c.status,
                               'subject', CASE WHEN ${READABLE} THEN c.subject END,
                               'campaign', c.campaign_id, 'text', CASE WHEN ${READABLE} THEN left(c.text, 500) END)
       FROM inbound_contacts c WHERE c.lead_id = $1
   ) t ORDER BY at DESC LIMIT $2`,
);

/**
 * One history per person across channels: what they did, what we sent or held back and why, and
 * how their consent changed; newest first. Replies are listed for everyone, but their subjects
 * and texts are personal data: they are shown only to a viewer whose `replies` reach (see
 * inbound/reach.ts) holds that reply's contact, and to nobody when `replies` is null.
 */
export async function leadTimeline(
  db: Queryable,
  leadId: number,
  options: { limit?: number; replies: Reach | null },
): Promise<TimelineEntry[]> {
  const { replies } = options;
  const { rows } = await db.query<TimelineEntry>(TIMELINE, [
    leadId,
    options.limit ?? 200,
    replies !== null,
    replies?.queues ?? null,
    replies?.userId ?? null,
  ]);
  return rows;
}
