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

/**
 * Every /api/v1 request needs `Authorization: Bearer <key>`. With `basic`, the key may also come
 * as the user of HTTP basic auth with an empty password: how Segment destinations (and the CDPs
 * that copy them) send a write key.
 */
export function requireApiKey(authenticate: (key: string) => Promise<ApiKeyOwner | undefined>, options: { basic?: boolean } = {}) {
  const expected = options.basic ? 'Authorization: Bearer <key>, or basic auth with the key as user' : 'Authorization: Bearer <key>';
  return async (req: Request, _res: Response, next: NextFunction) => {
    const key = bearerKey(req.get('authorization') ?? '', options.basic ?? false);
    if (key === undefined) throw new AppError('unauthorized', `an API key is required: ${expected}`);
    const owner = await authenticate(key);
    if (!owner) throw new AppError('unauthorized', 'the API key is unknown or revoked');
    req.apiKey = owner;
    next();
  };
}

function bearerKey(header: string, basic: boolean): string | undefined {
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  if (bearer) return bearer[1];
  const credentials = basic ? /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header) : null;
  if (!credentials) return undefined;
  const [user, password] = Buffer.from(credentials[1]!, 'base64').toString('utf8').split(/:(.*)/s);
  return user && !password ? user : undefined;
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
