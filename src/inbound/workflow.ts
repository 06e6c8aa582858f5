import type pg from 'pg';
import { findActiveUser } from '../access/users.ts';
import { statement } from '../db/statement.ts';
import { withTransaction } from '../db/tx.ts';
import { AppError } from '../errors.ts';
import { assignFor, type Assignee } from './assign.ts';
import type { EmitEvents } from '../leads/events.ts';
import { emitClosed, type SalesOpportunity } from './contact-events.ts';
import type { Actor } from './contacts.ts';
import { recordContactEvent } from './history.ts';
import { notifyAgent } from './notify.ts';
import type { InboundRules } from './rules.ts';
import type { ContactStatus } from './schema.ts';
import { ruleSkills } from './thread.ts';

/**
 * A contact's way through the service team: new → assigned → accepted → closed, reassigned at any
 * open point. Each change locks the contact, checks the change is allowed from where it stands,
 * and lands in its history with who made it.
 */

const LOCK = statement(
  'inbound.lock-contact',
  `SELECT c.id, c.status, c.assignee_id, c.queue, c.language, c.rule, l.erased_at
     FROM inbound_contacts c LEFT JOIN leads l ON l.id = c.lead_id WHERE c.id = $1 AND c.kind = 'human' FOR UPDATE OF c`,
);
const ACCEPT = statement(
  'inbound.accept',
  `UPDATE inbound_contacts SET status = 'accepted', assignee_id = $2, accepted_at = $3 WHERE id = $1`,
);
const ASSIGN = statement(
  'inbound.assign',
  `UPDATE inbound_contacts SET queue = $2, assignee_id = $3, status = $4, accepted_at = NULL WHERE id = $1`,
);
const CLOSE = statement('inbound.close', `UPDATE inbound_contacts SET status = 'closed', resolution = $2, closed_at = $3 WHERE id = $1`);

export interface LockedContact {
  id: number;
  status: ContactStatus;
  assignee_id: number | null;
  queue: string | null;
  language: string | null;
  rule: string | null;
}

/**
 * Locks the contact for a change and checks it may make that change. Nothing changes on the contact
 * of an erased person: it was closed by the erasure, and an answer would have no address to go to.
 */
export async function lockContact(
  client: pg.PoolClient,
  id: number,
  allowed: readonly ContactStatus[],
  action: string,
): Promise<LockedContact> {
  const { rows } = await client.query<LockedContact & { erased_at: Date | null }>(LOCK, [id]);
  const contact = rows[0];
  if (!contact) throw new AppError('not_found', `no inbound contact ${id}`);
  if (contact.erased_at) {
    throw new AppError(
      'conflict',
      `contact ${id} is of a person whose data was erased on ${contact.erased_at.toISOString().slice(0, 10)}; it cannot be ${action}, and nothing can be sent to them`,
    );
  }
  if (!allowed.includes(contact.status)) throw new AppError('conflict', `contact ${id} is ${contact.status}; it cannot be ${action}`);
  return contact;
}

/** The assignee takes the contact on: it is theirs now, and the clock for a first response stops. */
export async function acceptContact(pool: pg.Pool, id: number, actor: Actor, now: Date): Promise<void> {
  await withTransaction(pool, async (client) => {
    const contact = await lockContact(client, id, ['new', 'assigned'], 'accepted');
    const userId = actor.userId ?? contact.assignee_id;
    if (!userId) throw new AppError('unprocessable', `contact ${id} has no assignee; name the user who accepts it`);
    await client.query(ACCEPT, [id, userId, now]);
    await recordContactEvent(client, id, 'accepted', actor.label, {}, now);
  });
}

/** Hands the contact to a person, or to another queue (whose least-loaded member gets it). */
export async function assignContact(
  pool: pg.Pool,
  rules: InboundRules,
  id: number,
  to: { user?: string; queue?: string },
  actor: Actor,
  now: Date,
): Promise<void> {
  await withTransaction(pool, async (client) => {
    const contact = await lockContact(client, id, ['new', 'assigned', 'accepted'], 'reassigned');
    let queueId = contact.queue;
    let assignee: Assignee | undefined;
    let reason: string | undefined;
    if (to.queue) {
      const queue = rules.queues.find((q) => q.id === to.queue);
      if (!queue) throw new AppError('unprocessable', `unknown queue '${to.queue}'; known: ${rules.queues.map((q) => q.id).join(', ')}`);
      queueId = queue.id;
      if (!to.user)
        ({ assignee, reason } = await assignFor(client, queue, { language: contact.language, skills: ruleSkills(rules, contact.rule) }));
    }
    if (to.user) {
      assignee = await findActiveUser(client, to.user, ['service', 'admin']);
      if (!assignee) throw new AppError('unprocessable', `no active service user '${to.user}'`);
    }
    await client.query(ASSIGN, [id, queueId, assignee?.id ?? null, assignee ? 'assigned' : 'new']);
    await recordContactEvent(
      client,
      id,
      'assigned',
      actor.label,
      { to: assignee?.email ?? null, queue: queueId, ...(reason ? { reason } : {}) },
      now,
    );
    // Whoever hands a contact to themselves needs no email about it.
    if (assignee && assignee.id !== actor.userId)
      await notifyAgent(
        client,
        { key: `assigned:${id}:${assignee.id}:${now.toISOString()}`, userId: assignee.id, contactId: id, kind: 'assigned' },
        now,
      );
  });
}

/** Closes the contact with its resolution; its `contact_closed` (and a flagged `sales_opportunity`) are emitted with it. */
export async function closeContact(
  pool: pg.Pool,
  emit: EmitEvents,
  id: number,
  close: { resolution: string; sales?: SalesOpportunity },
  actor: Actor,
  now: Date,
): Promise<void> {
  await withTransaction(pool, async (client) => {
    await lockContact(client, id, ['new', 'assigned', 'accepted'], 'closed');
    await client.query(CLOSE, [id, close.resolution, now]);
    await recordContactEvent(
      client,
      id,
      'closed',
      actor.label,
      { resolution: close.resolution, sales_opportunity: Boolean(close.sales) },
      now,
    );
    await emitClosed(client, emit, id, close.resolution, close.sales, now);
  });
}
