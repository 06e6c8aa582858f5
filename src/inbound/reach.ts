import { can } from '../access/roles.ts';
import type { Role } from '../access/schema.ts';
import { statement, type Queryable } from '../db/statement.ts';
import { AppError } from '../errors.ts';
import type { InboundRules, Queue } from './rules.ts';

/**
 * The reach rule: which contacts someone may see. A service person sees the queues they serve
 * (member or lead) and whatever is assigned or escalated to them; admins and compliance see all.
 * Everything that shows a reply asks here: the inbox pages and the API, for lists and single
 * contacts alike, and every timeline that holds replies (a lead's, a contact's person's), so the
 * words of a reply never reach anyone through a side door.
 */

/** Who is looking at replies: their role, and for a person their login and user id. */
export interface Viewer {
  role: Role;
  email?: string;
  userId?: number;
}

/** Where a contact sits: what deciding who may see it needs. */
export interface Placement {
  queue: string | null;
  assignee_id: number | null;
  escalated_to: number | null;
}

/**
 * The rule for one viewer, as data: the queues they may see (null: every queue) and the user
 * whose assigned and escalated contacts they see besides (null: none).
 */
export interface Reach {
  queues: string[] | null;
  userId: number | null;
}

/** The queues whose contacts someone may see. */
export function queuesInReach(rules: InboundRules, viewer: Viewer): Queue[] {
  if (viewer.role !== 'service') return rules.queues;
  return rules.queues.filter((q) => (viewer.email ? q.members.includes(viewer.email) || q.lead === viewer.email : false));
}

/** The queues someone leads: for a service person those naming them as `lead`; admins lead every queue. */
export function queuesLedBy(rules: InboundRules, viewer: Viewer): Queue[] {
  if (viewer.role === 'admin') return rules.queues;
  if (viewer.role !== 'service' || !viewer.email) return [];
  return rules.queues.filter((q) => q.lead === viewer.email);
}

export function reachOf(rules: InboundRules, viewer: Viewer): Reach {
  if (viewer.role !== 'service') return { queues: null, userId: null };
  return { queues: queuesInReach(rules, viewer).map((q) => q.id), userId: viewer.userId ?? null };
}

/**
 * Whose replies someone may read the words of (subjects and texts): nobody's for roles that do not
 * work replies (marketers), else those within their reach.
 */
export function replyReach(rules: InboundRules, viewer: Viewer): Reach | null {
  return can(viewer.role, 'inbound') ? reachOf(rules, viewer) : null;
}

/**
 * The same rule in SQL, over inbound contacts aliased `c`; `queues` and `userId` are the
 * parameters holding a Reach. Statements build it once, at module level.
 */
export function inReachSql(queues: string, userId: string): string {
  return `(${queues}::text[] IS NULL OR c.queue = ANY(${queues}) OR c.assignee_id = ${userId}::bigint OR c.escalated_to = ${userId}::bigint)`;
}

/** Whether a contact is someone's to see: in one of their queues, or assigned or escalated to them. */
export function contactInReach(rules: InboundRules, viewer: Viewer, contact: Placement): boolean {
  const { queues, userId } = reachOf(rules, viewer);
  if (queues === null) return true;
  if (contact.queue !== null && queues.includes(contact.queue)) return true;
  return userId !== null && (contact.assignee_id === userId || contact.escalated_to === userId);
}

/** A contact id that passed the reach rule for the viewer at hand: only `reachableContact` makes one. */
export type ReachableContact = number & { readonly reachChecked: unique symbol };

const PLACEMENT = statement('inbound.contact-placement', `SELECT queue, assignee_id, escalated_to FROM inbound_contacts WHERE id = $1`);

/**
 * The id of a contact within the viewer's reach. Anything else, an id that is not one included,
 * answers not found, exactly as if the contact did not exist.
 */
export async function reachableContact(db: Queryable, rules: InboundRules, viewer: Viewer, id: string | number): Promise<ReachableContact> {
  const contactId = Number(id);
  const missing = new AppError('not_found', `no inbound contact '${id}'`);
  if (!Number.isSafeInteger(contactId) || contactId <= 0) throw missing;
  const { rows } = await db.query<Placement>(PLACEMENT, [contactId]);
  if (!rows[0] || !contactInReach(rules, viewer, rows[0])) throw missing;
  return contactId as ReachableContact;
}
