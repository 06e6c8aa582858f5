import type { Role } from './schema.ts';

/**
 * What each role may do. `read`/`write` cover campaigns, leads, events and messages; `inbound`
 * is reading replies (their bodies are personal data), `inbound:work` accepting, answering,
 * reassigning and closing them. The full matrix comes with the compliance work.
 */
export type Permission = 'read' | 'write' | 'inbound' | 'inbound:work';

const PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: ['read', 'write', 'inbound', 'inbound:work'],
  marketer: ['read', 'write'],
  service: ['read', 'inbound', 'inbound:work'],
  compliance: ['read', 'inbound'],
};

export function can(role: Role, permission: Permission): boolean {
  return PERMISSIONS[role].includes(permission);
}
