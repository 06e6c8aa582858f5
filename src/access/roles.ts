import type { Role } from './schema.ts';

/**
 * What each role may do:
 * - `read` / `write`: campaigns, plans, reports, leads, events, messages (write: runs, imports, consents);
 * - `inbound` reading replies (their bodies are personal data), `inbound:work` accepting,
 *   answering, reassigning and closing them;
 * - `consent`: consent evidence, as-of checks, proofs and exports (the audit);
 * - `jobs`: Agenda's job dashboard (see and change scheduled runs and ticks), admins only.
 * Compliance reads everything and changes nothing; only it and admin see consent evidence;
 * marketers never read reply bodies. test/http/roles.test.ts walks every route against this.
 */
export type Permission = 'read' | 'write' | 'inbound' | 'inbound:work' | 'consent' | 'jobs';

const PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: ['read', 'write', 'inbound', 'inbound:work', 'consent', 'jobs'],
  marketer: ['read', 'write'],
  service: ['read', 'inbound', 'inbound:work'],
  compliance: ['read', 'inbound', 'consent'],
};

export function can(role: Role, permission: Permission): boolean {
  return PERMISSIONS[role].includes(permission);
}
