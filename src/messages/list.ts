import type { Channel } from '../channels/channel.ts';
import { statement, type Queryable } from '../db/statement.ts';
import type { MessageStatus } from './schema.ts';

/** A message as the API lists it. */
export interface ListedMessage {
  id: number;
  lead: string;
  campaign: string;
  step: string;
  occurrence: string;
  channel: Channel;
  persona: string;
  template: string | null;
  status: MessageStatus;
  reason: string | null;
  /** The failure's own words (a render error names the template and the variable), or the last attempt's. */
  error: string | null;
  consent_event: number | null;
  to: string | null;
  subject: string | null;
  attempts: number;
  possible_duplicate: boolean;
  provider_id: string | null;
  created_at: Date;
  sent_at: Date | null;
}

export interface MessageFilter {
  campaign?: string;
  status?: MessageStatus;
  /** Only messages older than this id (the `next` of the previous page). */
  before?: number;
  limit: number;
}

const LIST = statement(
  'messages.list',
  `SELECT m.id, l.external_id AS lead, m.campaign_id AS campaign, m.step_id AS step, m.occurrence, m.channel, m.persona, m.template,
          m.status, m.reason, m.last_error AS error, m.consent_event_id AS consent_event, m.to_address AS "to", m.subject, m.attempts, m.possible_duplicate,
          m.provider_id, m.created_at, m.sent_at
     FROM messages m JOIN leads l ON l.id = m.lead_id
    WHERE ($1::text IS NULL OR m.campaign_id = $1) AND ($2::text IS NULL OR m.status = $2) AND ($3::bigint IS NULL OR m.id < $3)
    ORDER BY m.id DESC LIMIT $4`,
);

/** The outbox, newest first, a page at a time. */
export async function listMessages(db: Queryable, filter: MessageFilter): Promise<{ messages: ListedMessage[]; next: number | null }> {
  const { rows } = await db.query<ListedMessage>(LIST, [
    filter.campaign ?? null,
    filter.status ?? null,
    filter.before ?? null,
    filter.limit,
  ]);
  return { messages: rows, next: rows.length === filter.limit ? rows[rows.length - 1]!.id : null };
}
