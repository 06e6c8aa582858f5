import type { NextFunction, Request, Response } from 'express';
import type { ApiKeyOwner } from '../access/keys.ts';
import { can, type Permission } from '../access/roles.ts';
import { AppError } from '../errors.ts';
import type { Viewer } from '../inbound/reach.ts';

declare module 'express-serve-static-core' {
  interface Request {
    apiKey?: ApiKeyOwner;
  }
}

/** Every /api/v1 request needs `Authorization: Bearer <key>`. */
export function requireApiKey(authenticate: (key: string) => Promise<ApiKeyOwner | undefined>) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new AppError('unauthorized', 'an API key is required: Authorization: Bearer <key>');
    const owner = await authenticate(match[1]!);
    if (!owner) throw new AppError('unauthorized', 'the API key is unknown or revoked');
    req.apiKey = owner;
    next();
  };
}

/**
 * Refuses the request unless the key's role has `permission`. The handler carries the permission it
 * checks, so the OpenAPI test can compare every route with the roles its document promises.
 */
export function requirePermission(permission: Permission) {
  const check = (req: Request, _res: Response, next: NextFunction) => {
    const role = req.apiKey!.role;
    if (!can(role, permission)) throw new AppError('forbidden', `the ${role} role may not ${permission} here`);
    next();
  };
  return Object.assign(check, { permission });
}

/** Who is looking, for the reach rule (inbound/reach.ts): the key's role, and the person a service key acts for. */
export function apiViewer(req: Request): Viewer {
  const key = req.apiKey!;
  return { role: key.role, email: key.user?.email, userId: key.user?.id };
}
