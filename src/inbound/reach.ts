import type { Role } from '../access/schema.ts';
import type { InboundRules, Queue } from './rules.ts';

/** Who is looking at replies: their role, and for a person their login and user id. */
export interface Viewer {
  role: Role;
  email?: string;
  userId?: number;
}

/**
 * The queues whose contacts someone may see: a service person the queues they serve (member or
 * lead); admins and compliance all of them.
 */
export function queuesInReach(rules: InboundRules, viewer: Viewer): Queue[] {
  if (viewer.role !== 'service') return rules.queues;
  return rules.queues.filter((q) => (viewer.email ? q.members.includes(viewer.email) || q.lead === viewer.email : false));
}

/** Whether a contact is someone's to see: in one of their queues, or assigned or escalated to them. */
export function contactInReach(
  rules: InboundRules,
  viewer: Viewer,
  contact: { queue: string | null; assignee_id: number | null; escalated_to?: number | null },
): boolean {
  if (viewer.role !== 'service') return true;
  if (viewer.userId !== undefined && (contact.assignee_id === viewer.userId || contact.escalated_to === viewer.userId)) return true;
  return queuesInReach(rules, viewer).some((q) => q.id === contact.queue);
}
