import type pg from 'pg';
import { statement, type Queryable } from '../db/statement.ts';
import { withTransaction } from '../db/tx.ts';
import { log } from '../log.ts';
import { enhancedStatus } from './dsn.ts';
import type { AddressStatus, BounceOutcome, BounceSource } from './schema.ts';

/**
 * The only writer of email_bounces and email_address_states: every rule about when an address
 * stops (and starts again) taking our mail lives here.
 * - A hard bounce makes the address undeliverable.
 * - Soft bounces count: three in a row (no report of a delivery between them) within 30 days make
 *   it undeliverable too.
 * - A report that a later message was delivered makes it deliverable again. A relay accepting a
 *   message is not such a report (it says nothing about the mailbox), so nothing else clears it,
 *   short of the person's address changing: the state is kept per (lead, address), and a new
 *   address starts clean.
 * - One message counts once per outcome, however often its report arrives.
 * - Sending a refused message again (retry) re-admits the address its refusal made undeliverable.
 */
export interface BounceEvidence {
  messageId: number;
  outcome: BounceOutcome;
  source: BounceSource;
  action: string | null;
  status: string | null;
  diagnostic: string | null;
  finalRecipient: string | null;
  /** The report's Message-ID (or content hash); null for an SMTP refusal. */
  mailId: string | null;
}

/** What recording a bounce did: nothing new (`duplicate`), or the address's status after it. */
export type RecordedBounce =
  { duplicate: true } | { duplicate: false; bounceId: number; leadId: number; status: AddressStatus; changed: boolean };

/** Three soft bounces in a row within this long make an address undeliverable. */
export const SOFT_BOUNCE_LIMIT = { count: 3, withinMs: 30 * 24 * 3_600_000 };

const MESSAGE = statement(
  'deliverability.message-of-bounce',
  `SELECT lead_id AS "leadId", lower(to_address) AS address FROM messages WHERE id = $1 AND channel = 'email' AND to_address IS NOT NULL`,
);
// Makes the key's row if need be and locks it: bounces of one address are decided one after another.
const LOCK_STATE = statement(
  'deliverability.lock-address-state',
  `INSERT INTO email_address_states (lead_id, address, status, changed_at) VALUES ($1, $2, 'deliverable', $3)
   ON CONFLICT (lead_id, address) DO UPDATE SET status = email_address_states.status
   RETURNING status`,
);
// A report about a message already on record for that outcome is a copy: nothing new. A refusal
// while sending cannot be replayed from outside, so one on either side is new evidence (the message
// was sent again after a retry re-admitted its address, see readmitRefusedAddresses) and replaces it.
const INSERT_BOUNCE = statement(
  'deliverability.insert-bounce',
  `INSERT INTO email_bounces (lead_id, message_id, address, outcome, source, action, status, diagnostic, final_recipient, mail_id, received_at)
   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
   ON CONFLICT (message_id, outcome) DO UPDATE
      SET source = excluded.source, action = excluded.action, status = excluded.status, diagnostic = excluded.diagnostic,
          final_recipient = excluded.final_recipient, mail_id = excluded.mail_id, received_at = excluded.received_at
    WHERE email_bounces.source = 'smtp' OR excluded.source = 'smtp'
   RETURNING id`,
);
const LATEST = statement(
  'deliverability.latest-bounces',
  `SELECT outcome, received_at AS "receivedAt" FROM email_bounces WHERE lead_id = $1 AND address = $2
    ORDER BY received_at DESC, id DESC LIMIT $3`,
);
const SET_STATE = statement(
  'deliverability.set-address-state',
  `UPDATE email_address_states SET status = $3, bounce_id = $4, changed_at = $5 WHERE lead_id = $1 AND address = $2`,
);

/**
 * Records what a receiver said about message `evidence.messageId` at `now`, in the caller's
 * transaction, and what it does to the address the message went to. Undefined when there is no
 * such email (or its address was erased).
 */
export async function recordBounce(client: pg.PoolClient, evidence: BounceEvidence, now: Date): Promise<RecordedBounce | undefined> {
  const { rows } = await client.query<{ leadId: number; address: string }>(MESSAGE, [evidence.messageId]);
  const message = rows[0];
  if (!message) return undefined;
  const { leadId, address } = message;
  const { rows: locked } = await client.query<{ status: AddressStatus }>(LOCK_STATE, [leadId, address, now]);
  const before = locked[0]!.status;
  const e = evidence;
  const { rows: inserted } = await client.query<{ id: number }>(INSERT_BOUNCE, [
    leadId,
    e.messageId,
    address,
    e.outcome,
    e.source,
    e.action,
    e.status,
    e.diagnostic,
    e.finalRecipient,
    e.mailId,
    now,
  ]);
  if (!inserted[0]) return { duplicate: true };
  const bounceId = inserted[0].id;
  const after = await statusAfter(client, leadId, address, before, e.outcome);
  if (after !== before) {
    await client.query(SET_STATE, [leadId, address, after, bounceId, now]);
    log.info(after === 'undeliverable' ? 'email address marked undeliverable' : 'email address deliverable again', {
      lead: leadId,
      message: e.messageId,
      outcome: e.outcome,
      status: e.status,
    });
  }
  return { duplicate: false, bounceId, leadId, status: after, changed: after !== before };
}

async function statusAfter(
  db: Queryable,
  leadId: number,
  address: string,
  before: AddressStatus,
  outcome: BounceOutcome,
): Promise<AddressStatus> {
  if (outcome === 'delivered') return 'deliverable';
  if (before === 'undeliverable' || outcome === 'hard') return 'undeliverable';
  const { rows } = await db.query<{ outcome: BounceOutcome; receivedAt: Date }>(LATEST, [leadId, address, SOFT_BOUNCE_LIMIT.count]);
  const streak = rows.length === SOFT_BOUNCE_LIMIT.count && rows.every((r) => r.outcome === 'soft');
  const span = streak ? rows[0]!.receivedAt.getTime() - rows.at(-1)!.receivedAt.getTime() : Infinity;
  return span <= SOFT_BOUNCE_LIMIT.withinMs ? 'undeliverable' : 'deliverable';
}

const READMIT = statement(
  'deliverability.readmit-refused-addresses',
  `UPDATE email_address_states s SET status = 'deliverable', bounce_id = NULL, changed_at = $2
     FROM email_bounces b
    WHERE b.message_id = ANY($1::bigint[]) AND b.source = 'smtp' AND s.bounce_id = b.id AND s.status = 'undeliverable'
   RETURNING s.lead_id AS "leadId", b.message_id AS "messageId"`,
);

/**
 * Sending again messages that failed at the provider (messages/resend.ts) is the operator's word
 * that the mailbox is fixed: an address that one of these very messages made undeliverable by its
 * refusal while we sent takes mail again, in the caller's transaction. One made undeliverable by a
 * report, or by another message, stays so, and the message is suppressed as bounced when it starts.
 */
export async function readmitRefusedAddresses(db: Queryable, messageIds: number[], now: Date): Promise<void> {
  if (messageIds.length === 0) return;
  const { rows } = await db.query<{ leadId: number; messageId: number }>(READMIT, [messageIds, now]);
  for (const { leadId, messageId } of rows)
    log.info('email address re-admitted: its refused message is sent again', { lead: leadId, message: messageId });
}

/**
 * A receiver refused message `messageId`'s address for good while we sent it (SMTP: a 5xx to RCPT
 * TO, its reply `reply`): a hard bounce, recorded in a transaction of its own.
 */
export async function recordRefusedAddress(pool: pg.Pool, messageId: number, reply: string, now: Date): Promise<void> {
  await withTransaction(pool, (client) =>
    recordBounce(
      client,
      {
        messageId,
        outcome: 'hard',
        source: 'smtp',
        action: null,
        status: enhancedStatus(reply),
        diagnostic: reply.slice(0, 1000),
        finalRecipient: null,
        mailId: null,
      },
      now,
    ),
  );
}

const ERASE_STATES = statement('deliverability.erase-address-states', `DELETE FROM email_address_states WHERE lead_id = $1`);
const ERASE_BOUNCES = statement(
  'deliverability.erase-bounces',
  `UPDATE email_bounces SET address = NULL, final_recipient = NULL, diagnostic = NULL WHERE lead_id = $1`,
);

/** Erasure (leads/erase.ts): the addresses and the receivers' words go; that mail bounced stays, as the messages stay. */
export async function eraseBounces(db: Queryable, leadId: number): Promise<void> {
  await db.query(ERASE_STATES, [leadId]);
  await db.query(ERASE_BOUNCES, [leadId]);
}
