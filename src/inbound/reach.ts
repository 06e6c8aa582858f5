import type { Role } from '../access/schema.ts';
import type { Queryable } from '../db/statement.ts';
import { AppError } from '../errors.ts';
import { contactPlacement, type ContactFilter, type Placement } from './contacts.ts';
import type { InboundRules, Queue } from './rules.ts';

/**
 * The reach rule: which contacts someone may see. A service person sees the queues they serve
 * (member or lead) and whatever is assigned or escalated to them; admins and compliance see all.
 * The inbox pages and the API both ask here, for lists and for single contacts alike.
 */

/** Who is looking at replies: their role, and for a person their login and user id. */
export interface Viewer {
  role: Role;
  email?: string;
  userId?: number;
}

/** The queues whose contacts someone may see. */
export function queuesInReach(rules: InboundRules, viewer: Viewer): Queue[] {
  if (viewer.role !== 'service') return rules.queues;
  return rules.queues.filter((q) => (viewer.email ? q.members.includes(viewer.email) || q.lead === viewer.email : false));
}

/** Whether a contact is someone's to see: in one of their queues, or assigned or escalated to them. */
export function contactInReach(rules: InboundRules, viewer: Viewer, contact: Placement): boolean {
  if (viewer.role !== 'service') return true;
  if (viewer.userId !== undefined && (contact.assignee_id === viewer.userId || contact.escalated_to === viewer.userId)) return true;
  return queuesInReach(rules, viewer).some((q) => q.id === contact.queue);
}

/** The same rule as a list filter (none for roles that see everything). */
export function reachFilter(rules: InboundRules, viewer: Viewer): ContactFilter['reach'] {
  if (viewer.role !== 'service') return undefined;
  return { queues: queuesInReach(rules, viewer).map((q) => q.id), userId: viewer.userId };
}

/** A contact id that passed the reach rule for the viewer at hand: only `reachableContact` makes one. */
export type ReachableContact = number & { readonly reachChecked: unique symbol };

/**
 * The id of a contact within the viewer's reach. Anything else, an id that is not one included,
 * answers not found, exactly as if the contact did not exist.
 */
export async function reachableContact(db: Queryable, rules: InboundRules, viewer: Viewer, id: string | number): Promise<ReachableContact> {
  const contactId = Number(id);
  const missing = new AppError('not_found', `no inbound contact '${id}'`);
  if (!Number.isSafeInteger(contactId) || contactId <= 0) throw missing;
  const placement = await contactPlacement(db, contactId);
  if (!placement || !contactInReach(rules, viewer, placement)) throw missing;
  return contactId as ReachableContact;
}
