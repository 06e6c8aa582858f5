import { statement, type Queryable } from '../db/statement.ts';
import { inReachSql, type Reach } from '../inbound/reach.ts';

export interface TimelineEntry {
  at: Date;
  kind: 'event' | 'message' | 'consent' | 'reply' | 'bounce';
  /** Event name, `campaign/step` of a message, the consent action, the channel of a reply, or a bounce's outcome. */
  what: string;
  detail: Record<string, unknown>;
}

/** A reply's words (subject and text) are shown only when $3 says replies may be read at all and the contact is within reach ($4, $5). */
const READABLE = `$3::boolean AND ${inReachSql('$4', '$5')}`;

/** A reply's entry: its contact, and the words of the row `words` (the contact's first reply, or a later message on it). */
const replyDetail = (words: string) =>
  `jsonb_build_object('contact', c.id, 'kind', c.kind, 'category', c.category, 'status', c.status,
                      'subject', CASE WHEN ${READABLE} THEN ${words}.subject END,
                      'campaign', c.campaign_id, 'text', CASE WHEN ${READABLE} THEN left(${words}.text, 500) END)`;

const TIMELINE = statement(
  'leads.timeline',
  `SELECT * FROM (
     SELECT occurred_at AS at, 'event' AS kind, name AS what, jsonb_build_object('properties', properties) AS detail
       FROM events WHERE lead_id = $1
     UNION ALL
     SELECT coalesce(m.sent_at, m.due_at) AS at, 'message', m.campaign_id || '/' || m.step_id,
            jsonb_build_object('channel', m.channel, 'status', m.status, 'reason', m.reason, 'error', m.last_error,
                               'subject', m.subject, 'template', m.template, 'sent_at', m.sent_at,
                               'consent_event', m.consent_event_id, 'consent_action', e.action)
       FROM messages m LEFT JOIN consent_events e ON e.id = m.consent_event_id WHERE m.lead_id = $1
     UNION ALL
     SELECT occurred_at, 'consent', action, jsonb_build_object('id', id, 'channel', channel, 'purpose', purpose, 'source', source)
       FROM consent_events WHERE lead_id = $1
     UNION ALL
     SELECT received_at, 'bounce', outcome, jsonb_build_object('message', message_id, 'source', source, 'action', action,
                                                               'status', status, 'diagnostic', diagnostic)
       FROM email_bounces WHERE lead_id = $1
     UNION ALL
     SELECT c.received_at, 'reply', c.channel, ${replyDetail('c')}
       FROM inbound_contacts c WHERE c.lead_id = $1
     UNION ALL
     -- The person's later messages on a contact (inbound/thread.ts), under the same reach rule as the contact.
     SELECT cm.received_at, 'reply', cm.channel, ${replyDetail('cm')}
       FROM inbound_contact_messages cm JOIN inbound_contacts c ON c.id = cm.contact_id WHERE c.lead_id = $1
   ) t ORDER BY at DESC LIMIT $2`,
);

/**
 * One history per person across channels: what they did, what we sent or held back and why, how
 * their consent changed, and what came back as bounces; newest first. Replies are listed for everyone, but their subjects
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

/** A person as the lead page shows them, with whether they replied; never what they wrote. */
export interface LeadHistory {
  lead: {
    external_id: string;
    first_name: string | null;
    last_name: string | null;
    email: string | null;
    phone: string | null;
    locale: string | null;
    erased_at: Date | null;
  };
  /** Replies written by the person (not auto-replies or bounces): how many, the last one's instant, their categories. */
  replied: { count: number; last_at: Date | null; categories: string[] };
  timeline: TimelineEntry[];
}

const PERSON = statement(
  'leads.history-person',
  `SELECT l.id, l.external_id, l.first_name, l.last_name, l.email, l.phone, l.locale, l.erased_at,
          r.count, r.last_at, r.categories
     FROM leads l
     CROSS JOIN LATERAL (
       SELECT count(*)::int AS count, max(c.received_at) AS last_at,
              coalesce(array_agg(DISTINCT c.category ORDER BY c.category) FILTER (WHERE c.id IS NOT NULL), '{}') AS categories
         FROM inbound_contacts c WHERE c.lead_id = l.id AND c.kind = 'human') r
    WHERE l.external_id = $1`,
);

/**
 * A person's history for those who plan campaigns: who they are (or that they were erased), the
 * timeline across channels without the words of any reply, and whether they replied at all.
 */
export async function leadHistory(db: Queryable, externalId: string, limit = 200): Promise<LeadHistory | undefined> {
  const { rows } = await db.query<LeadHistory['lead'] & LeadHistory['replied'] & { id: number }>(PERSON, [externalId]);
  const row = rows[0];
  if (!row) return undefined;
  const { id, count, last_at, categories, ...lead } = row;
  return { lead, replied: { count, last_at, categories }, timeline: await leadTimeline(db, id, { limit, replies: null }) };
}
