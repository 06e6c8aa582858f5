import crypto from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { log, withLogContext } from '../log.ts';

/**
 * A request id per HTTP request, on every log line written while it is handled and in the
 * `X-Request-Id` answer header. A proxy's or a client's own id is kept when it looks like one
 * (letters, digits, `-_.:`, up to 128 characters), so a request can be followed through several
 * services; anything else (control characters, an email address, a megabyte) is replaced by a new
 * UUID, never logged.
 */
const SANE_REQUEST_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Probes and scrapes come every few seconds; their lines would drown the rest at `info`. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

declare module 'express-serve-static-core' {
  interface Request {
    /** The route that answered, as declared (`/api/v1/leads/:externalId`): what the log names, never the path itself. */
    routePattern?: string;
  }
}

export const requestContext: RequestHandler = (req, res, next) => {
  const given = req.get('x-request-id');
  const id = given !== undefined && SANE_REQUEST_ID.test(given) ? given : crypto.randomUUID();
  res.set('X-Request-Id', id);
  rememberRoutePattern(req);
  const started = performance.now();
  res.once('finish', () => {
    const line = { request_id: id, method: req.method, route: req.routePattern ?? '(none)', status: res.statusCode };
    const fields = { ...line, ms: Math.round(performance.now() - started) };
    if (QUIET_PATHS.has(req.path)) log.debug('request', fields);
    else log.info('request', fields);
  });
  withLogContext({ request_id: id }, next);
};

/**
 * Paths hold personal data (a lead's external id, the token of an unsubscribe link) and query
 * strings more (a search), so lines name the route pattern instead. Express sets `req.route` when a
 * route matches, while `req.baseUrl` still holds the mount path; by the time an error reaches the
 * error handler the router has put `baseUrl` back, so the full pattern is kept at that moment.
 */
function rememberRoutePattern(req: Request): void {
  let route: unknown;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set(value: { path?: unknown } | undefined) {
      route = value;
      if (typeof value?.path === 'string')
        req.routePattern = value.path === '/' && req.baseUrl ? req.baseUrl : `${req.baseUrl}${value.path}`;
    },
  });
}
