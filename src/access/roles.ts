import type { Role } from './schema.ts';

/**
 * What each role may do. The full matrix comes with the compliance work; until then reading is
 * open to every role and only admins and marketers change anything.
 */
export type Permission = 'read' | 'write';

const PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: ['read', 'write'],
  marketer: ['read', 'write'],
  service: ['read'],
  compliance: ['read'],
};

export function can(role: Role, permission: Permission): boolean {
  return PERMISSIONS[role].includes(permission);
}
