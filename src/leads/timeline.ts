import { statement, type Queryable } from '../db/statement.ts';

export interface TimelineEntry {
  at: Date;
  kind: 'event' | 'message' | 'consent' | 'reply';
  /** Event name, `campaign/step` of a message, the consent action, or the channel of a reply. */
  what: string;
  detail: Record<string, unknown>;
}

const TIMELINE = statement(
  'leads.timeline',
  `SELECT * FROM (
     SELECT occurred_at AS at, 'event' AS kind, name AS what, jsonb_build_object('properties', properties) AS detail
       FROM events WHERE lead_id = $1
     UNION ALL
     SELECT coalesce(sent_at, due_at) AS at, 'message', campaign_id || '/' || step_id,
            jsonb_build_object('channel', channel, 'status', status, 'reason', reason, 'subject', subject, 'template', template)
       FROM messages WHERE lead_id = $1
     UNION ALL
     SELECT occurred_at, 'consent', action, jsonb_build_object('channel', channel, 'purpose', purpose, 'source', source)
       FROM consent_events WHERE lead_id = $1
     UNION ALL
     SELECT received_at, 'reply', channel,
            jsonb_build_object('contact', id, 'kind', kind, 'category', category, 'status', status, 'subject', subject,
                               'campaign', campaign_id, 'text', CASE WHEN $3::boolean THEN left(text, 500) END)
       FROM inbound_contacts WHERE lead_id = $1
   ) t ORDER BY at DESC LIMIT $2`,
);

/**
 * One history per person across channels: what they did, what we sent or held back and why, and
 * how their consent changed; newest first.
 */
export async function leadTimeline(
  db: Queryable,
  leadId: number,
  options: { limit?: number; replyText?: boolean } = {},
): Promise<TimelineEntry[]> {
  const { rows } = await db.query<TimelineEntry>(
    TIMELINE,
    // Reply bodies are personal data that only roles working with replies may read.
    [leadId, options.limit ?? 200, options.replyText ?? false],
  );
  return rows;
}
