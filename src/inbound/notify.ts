import crypto from 'node:crypto';
import type pg from 'pg';
import { SendError, type ChannelAdapter } from '../channels/channel.ts';
import { statement, type Queryable } from '../db/statement.ts';
import { errorMessage } from '../errors.ts';
import { log } from '../log.ts';

/**
 * Agent notifications: an email to the person a contact was assigned or escalated to, for those
 * whose `notify` setting is on (the page header, `touchpoint users notify`). The mailbox it goes to
 * is outside the reach rule, so it says which contact and where it waits, never what the person
 * wrote: the link opens the contact behind the sign-in.
 *
 * Recorded in the transaction of the assignment or escalation (never lost) and sent by the
 * scheduler's minute tick like the outbox sends messages: claimed with SKIP LOCKED, marked
 * attempted right before the server takes it, recorded sent after; a claim whose process died is
 * taken back after CLAIM_TIMEOUT_MS, as `possible_duplicate` if it may have left (never twice,
 * except that unavoidable window).
 */
export const NOTIFICATION_PURPOSE = 'service-notification';
export type NotificationKind = 'assigned' | 'escalated';

const CLAIM_TIMEOUT_MS = 5 * 60_000;
const MAX_ATTEMPTS = 5;
const BATCH = 50;

const RECORD = statement(
  'inbound.record-notification',
  `INSERT INTO agent_notifications (idempotency_key, user_id, contact_id, kind, to_address, status, due_at, created_at)
   SELECT $1, u.id, $3, $4, u.email, 'queued', $5, $5 FROM users u WHERE u.id = $2 AND u.notify AND u.disabled_at IS NULL
   ON CONFLICT (idempotency_key) DO NOTHING`,
);

/**
 * Records the notification of a change to a contact, in the caller's transaction; nothing when
 * the person turned notifications off or is disabled. `key` names the change (one email each).
 */
export async function notifyAgent(
  db: Queryable,
  change: { key: string; userId: number; contactId: number; kind: NotificationKind },
  now: Date,
): Promise<void> {
  await db.query(RECORD, [change.key, change.userId, change.contactId, change.kind, now]);
}

const TAKE_BACK = statement(
  'inbound.notifications-take-back',
  `UPDATE agent_notifications SET status = 'queued', possible_duplicate = possible_duplicate OR attempted_at IS NOT NULL,
          attempted_at = NULL, claimed_at = NULL
    WHERE status = 'sending' AND claimed_at < $1`,
);
const CLAIM = statement(
  'inbound.notifications-claim',
  `UPDATE agent_notifications n SET status = 'sending', claimed_at = $1, attempted_at = NULL, attempts = n.attempts + 1
     FROM (SELECT id FROM agent_notifications WHERE status = 'queued' AND due_at <= $1 ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) d
    WHERE n.id = d.id
   RETURNING n.id, n.kind, n.to_address, n.attempts, n.contact_id,
             (SELECT c.queue FROM inbound_contacts c WHERE c.id = n.contact_id) AS queue,
             (SELECT c.priority FROM inbound_contacts c WHERE c.id = n.contact_id) AS priority`,
);
const START = statement(
  'inbound.notification-start',
  `UPDATE agent_notifications SET attempted_at = $3 WHERE id = $1 AND status = 'sending' AND claimed_at = $2`,
);
const SENT = statement(
  'inbound.notification-sent',
  `UPDATE agent_notifications SET status = 'sent', sent_at = $3, provider_id = $4, last_error = NULL
    WHERE id = $1 AND status = 'sending' AND claimed_at = $2`,
);
const FAILED = statement(
  'inbound.notification-failed',
  `UPDATE agent_notifications
      SET status = CASE WHEN $3 THEN 'failed' ELSE 'queued' END, last_error = $4, due_at = $5, claimed_at = NULL,
          possible_duplicate = possible_duplicate OR (attempted_at IS NOT NULL AND $6), attempted_at = NULL
    WHERE id = $1 AND status = 'sending' AND claimed_at = $2`,
);

interface Claimed {
  id: number;
  kind: NotificationKind;
  to_address: string;
  attempts: number;
  contact_id: number;
  queue: string | null;
  priority: string;
}

/**
 * The Message-ID key of notifications: a key of their own, which the inbound side does not accept,
 * so an agent answering one is never taken for a reply to a customer's message of the same id.
 */
export function notificationMessageIdSecret(secret: string): string {
  return crypto.createHmac('sha256', secret).update('agent-notifications').digest('hex');
}

/** What a notification says: the contact, its queue and priority, and the link; no words of the person's. */
function compose(n: Claimed, publicUrl: string): { subject: string; text: string } {
  const what = n.kind === 'assigned' ? 'assigned to you' : 'escalated to you: nobody took it on in time';
  const where = `${n.queue ? `queue ${n.queue}, ` : ''}priority ${n.priority}`;
  return {
    subject: `Contact ${n.contact_id} ${n.kind === 'assigned' ? 'assigned' : 'escalated'} to you (${where})`,
    text:
      `Contact ${n.contact_id} was ${what} (${where}).\n\nOpen it: ${publicUrl}/inbox/${n.contact_id}\n\n` +
      'You get these emails because notifications are on for you; turn them off in the page header of Touchpoint.',
  };
}

/** Sends the notifications that are due; returns how many were sent. */
export async function sendNotifications(pool: pg.Pool, deps: { email(): ChannelAdapter; publicUrl: string }, now: Date): Promise<number> {
  await pool.query(TAKE_BACK, [new Date(now.getTime() - CLAIM_TIMEOUT_MS)]);
  const { rows } = await pool.query<Claimed>(CLAIM, [now, BATCH]);
  if (rows.length === 0) return 0;
  const adapter = deps.email();
  let sent = 0;
  try {
    for (const n of rows) {
      const { subject, text } = compose(n, deps.publicUrl);
      try {
        const accepted = await adapter.send(
          {
            id: n.id,
            to: n.to_address,
            subject,
            text,
            html: '',
            headers: { 'Auto-Submitted': 'auto-generated', 'X-Touchpoint-Purpose': NOTIFICATION_PURPOSE },
          },
          async () => ((await pool.query(START, [n.id, now, now])).rowCount ? async () => {} : undefined),
        );
        if (!accepted) continue;
        await pool.query(SENT, [n.id, now, now, accepted.providerId]);
        sent++;
      } catch (err) {
        const permanent = (err instanceof SendError && err.permanent) || n.attempts >= MAX_ATTEMPTS;
        const mayHaveLeft = !(err instanceof SendError && err.channelFailure === 'unreachable');
        const retryAt = new Date(now.getTime() + 60_000 * 2 ** (n.attempts - 1));
        await pool.query(FAILED, [n.id, now, permanent, errorMessage(err), retryAt, mayHaveLeft]);
        log.warn('an agent notification was not sent', { notification: n.id, error: err, retry: !permanent });
      }
    }
  } finally {
    await adapter.close();
  }
  return sent;
}
