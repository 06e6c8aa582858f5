import type pg from 'pg';
import type { Channel } from '../channels/channel.ts';
import { consentKeyOf, type ConsentKey } from '../consent/state.ts';
import { statement } from '../db/statement.ts';
import { messageMetrics } from './metrics.ts';

/**
 * What a change of consent does to the outbox, inside the ledger's transaction (consent/ledger.ts).
 * A send and a withdrawal serialise on the message row: a send starts (attempt.ts) only on a row
 * that is still claimed, and a withdrawal suppresses every row of its key whose send has not
 * started. Whichever commits first wins, and the other sees it.
 */
const KEYS = `unnest($1::bigint[], $2::text[], $3::text[]) AS k(lead_id, channel, purpose)`;
const OF_KEY = `m.lead_id = k.lead_id AND m.channel = k.channel AND m.purpose = k.purpose`;

// Locks, in id order (see attempt.ts), every row of the keys whose send has not started: queued,
// or claimed and not attempted. A start under way holds its row and is waited for.
const HOLD = statement(
  'messages.hold-unstarted-of-keys',
  `SELECT m.id FROM messages m JOIN ${KEYS} ON ${OF_KEY}
    WHERE m.status = 'queued' OR (m.status = 'sending' AND m.attempted_at IS NULL)
    ORDER BY m.id
      FOR UPDATE OF m`,
);

// Run after HOLD, in a snapshot of its own, so that a start HOLD waited for is seen.
const LATEST_STARTS = statement(
  'messages.latest-starts-of-keys',
  `SELECT m.lead_id, m.channel, m.purpose, max(m.attempted_at) AS started FROM messages m JOIN ${KEYS} ON ${OF_KEY}
    WHERE m.attempted_at >= $4
    GROUP BY m.lead_id, m.channel, m.purpose`,
);

const SUPPRESS_UNSTARTED = statement(
  'messages.suppress-unstarted-of-keys',
  `WITH unstarted AS (
     SELECT m.id, k.reason FROM messages m JOIN unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS k(lead_id, channel, purpose, reason)
         ON ${OF_KEY}
      WHERE m.status = 'queued' OR (m.status = 'sending' AND m.attempted_at IS NULL)
      ORDER BY m.id
        FOR UPDATE OF m
   )
   UPDATE messages m SET status = 'suppressed', reason = u.reason, claimed_by = NULL, consent_event_id = NULL
     FROM unstarted u WHERE m.id = u.id
   RETURNING m.channel, m.reason`,
);

/**
 * Holds the sends of these keys that have not started until the caller's transaction ends (none of
 * them can start meanwhile) and returns, per key (consentKeyOf), when the latest send that started
 * at or after `since` did.
 */
export async function holdSends(client: pg.PoolClient, keys: ConsentKey[], since: Date): Promise<Map<string, Date>> {
  const params = [keys.map((k) => k.leadId), keys.map((k) => k.channel), keys.map((k) => k.purpose)];
  await client.query(HOLD, params);
  const { rows } = await client.query<{ lead_id: number; channel: Channel; purpose: string; started: Date }>(LATEST_STARTS, [
    ...params,
    since,
  ]);
  return new Map(rows.map((r) => [consentKeyOf({ leadId: r.lead_id, channel: r.channel, purpose: r.purpose }), r.started]));
}

/** Suppresses, with its reason, every message of a key whose send has not started. */
export async function suppressUnstarted(client: pg.PoolClient, refused: (ConsentKey & { reason: string })[]): Promise<void> {
  if (refused.length === 0) return;
  const { rows } = await client.query<{ channel: Channel; reason: string }>(SUPPRESS_UNSTARTED, [
    refused.map((k) => k.leadId),
    refused.map((k) => k.channel),
    refused.map((k) => k.purpose),
    refused.map((k) => k.reason),
  ]);
  for (const { channel, reason } of rows) messageMetrics.suppressed(channel, reason);
}
