import type pg from 'pg';
import type { Channel } from '../channels/channel.ts';
import { statement } from '../db/statement.ts';
import { messageMetrics } from './metrics.ts';
import type { MessageStatus, messages } from './schema.ts';

export type NewMessage = typeof messages.$inferInsert;

/** `(campaign, step, lead, occurrence)`: the same person never gets the same step twice per occurrence. */
export function idempotencyKey(campaignId: string, stepId: string, leadId: number, occurrence: string): string {
  return `${campaignId}:${stepId}:${leadId}:${occurrence}`;
}

/** Columns written when recording, with their SQL types (for one array parameter each). */
const COLUMNS: [keyof NewMessage, string, string][] = [
  ['idempotencyKey', 'idempotency_key', 'text'],
  ['campaignId', 'campaign_id', 'text'],
  ['stepId', 'step_id', 'text'],
  ['occurrence', 'occurrence', 'text'],
  ['runId', 'run_id', 'bigint'],
  ['enrollmentId', 'enrollment_id', 'bigint'],
  ['leadId', 'lead_id', 'bigint'],
  ['channel', 'channel', 'text'],
  ['purpose', 'purpose', 'text'],
  ['persona', 'persona', 'text'],
  ['template', 'template', 'text'],
  ['status', 'status', 'text'],
  ['reason', 'reason', 'text'],
  ['consentEventId', 'consent_event_id', 'bigint'],
  ['toAddress', 'to_address', 'text'],
  ['subject', 'subject', 'text'],
  ['bodyText', 'body_text', 'text'],
  ['bodyHtml', 'body_html', 'text'],
  ['headers', 'headers', 'jsonb'],
  ['lastError', 'last_error', 'text'],
  ['dueAt', 'due_at', 'timestamptz'],
];

const INSERT = statement(
  'messages.record',
  `INSERT INTO messages (${COLUMNS.map(([, column]) => column).join(', ')})
   SELECT * FROM unnest(${COLUMNS.map(([, , type], i) => `$${i + 1}::${type}[]`).join(', ')})
   ON CONFLICT (idempotency_key) DO NOTHING
   RETURNING id, enrollment_id AS "enrollmentId", status, channel, reason`,
);

export interface RecordedMessage {
  id: number;
  /** The enrollment whose step this message is (none for a message outside sequences). */
  enrollmentId: number | null;
  status: MessageStatus;
  channel: Channel;
  reason: string | null;
}

/**
 * Records a batch in one statement (a hot path: every step of every sequence passes here). A key
 * recorded before is left alone, so a repeated run or a retried batch never records a message
 * twice. Returns the rows this call created, and counts them for /metrics. Dispatchers are woken by
 * the table's trigger.
 */
export async function recordMessages(client: pg.PoolClient, rows: NewMessage[]): Promise<RecordedMessage[]> {
  if (rows.length === 0) return [];
  const params = COLUMNS.map(([key, , type]) =>
    rows.map((row) => {
      const value = row[key];
      if (value === undefined) return key === 'headers' ? '{}' : null;
      return type === 'jsonb' ? JSON.stringify(value) : value;
    }),
  );
  const { rows: recorded } = await client.query<RecordedMessage>(INSERT, params);
  messageMetrics.recorded(recorded);
  return recorded;
}
