import crypto from 'node:crypto';
import type { Request, RequestHandler, Router } from 'express';
import { can } from '../../access/roles.ts';
import { sameSecret } from '../../access/secrets.ts';
import { SESSION_TTL_MS } from '../../access/sessions.ts';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import { log } from '../../log.ts';
import { page, type Guard } from './kit.ts';

/**
 * Signing in and out. Sessions live in PostgreSQL behind an HttpOnly SameSite cookie; every form
 * carries the session's CSRF token (the login form a double-submit cookie), so another site can
 * neither read nor post on someone's behalf. Too many wrong passwords lock a login for a while.
 */
const SESSION_COOKIE = 'tp_session';
const LOGIN_COOKIE = 'tp_login';

/** Too many wrong passwords for one login lock it for a while; kept per process. */
const FAILURES_ALLOWED = 5;
const LOCK_MS = 15 * 60_000;
const failures = new Map<string, { count: number; until: number }>();

/**
 * Our own cookies, read tolerantly. The header also carries other sites' cookies on our domain
 * (analytics, a proxy's), which are not ours to decode: one malformed value (`_ga=100%`) must not
 * fail every page. A value of ours that does not decode, or holds control characters, counts as
 * absent, like an expired one.
 */
function cookies(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const i = part.indexOf('=');
    const name = part.slice(0, Math.max(i, 0)).trim();
    if (name !== SESSION_COOKIE && name !== LOGIN_COOKIE) continue;
    let value: string;
    try {
      value = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      continue;
    }
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    if (!/[\u0000-\u001f\u007f]/.test(value)) out[name] = value;
  }
  return out;
}

/** Only paths of our own after login, never another origin (`//evil.example`). */
function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?!\/)[\w\-/?=&%.]*$/.test(next) ? next : '/inbox';
}

export function sessions(engine: Engine) {
  const secure = engine.config.publicUrl.startsWith('https:');
  const cookie = (name: string, value: string, maxAgeMs: number) =>
    `${name}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${Math.floor(maxAgeMs / 1000)}${secure ? '; Secure' : ''}`;

  /** Loads the session of the request's cookie, if it is live. */
  const load: RequestHandler = async (req, _res, next) => {
    const token = cookies(req)[SESSION_COOKIE];
    if (token) {
      req.session = await engine.access.findSession(token, engine.clock.now());
      req.sessionToken = token;
    }
    next();
  };

  const guard: Guard = (permission) => (req, res, next) => {
    if (!req.session) return res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
    if (req.method === 'POST' && !sameSecret((req.body as Record<string, string>)?._csrf, req.session.csrfToken)) {
      throw new AppError('forbidden', 'this form has expired or did not come from Touchpoint; reload the page and try again');
    }
    if (!can(req.session.user.role, permission))
      throw new AppError('forbidden', `the ${req.session.user.role} role has no access to this page`);
    next();
  };

  function routes(router: Router): void {
    router.get('/login', (req, res) => {
      if (req.session) return res.redirect(303, safeNext(req.query.next));
      const loginCsrf = crypto.randomBytes(24).toString('base64url');
      res.set('Set-Cookie', cookie(LOGIN_COOKIE, loginCsrf, 3_600_000));
      page(res, 'login', 'Sign in', req, { loginCsrf, next: safeNext(req.query.next) });
    });

    router.post('/login', async (req, res) => {
      const body = req.body as Record<string, string | undefined>;
      const email = (body.email ?? '').trim().toLowerCase();
      const again = (error: string, status: number) => {
        const loginCsrf = crypto.randomBytes(24).toString('base64url');
        res.set('Set-Cookie', cookie(LOGIN_COOKIE, loginCsrf, 3_600_000));
        page(res, 'login', 'Sign in', req, { loginCsrf, next: safeNext(body.next), email, error }, status);
      };
      if (!sameSecret(body._csrf, cookies(req)[LOGIN_COOKIE])) return again('The sign-in form expired; please try again.', 403);
      const lock = failures.get(email);
      if (lock && lock.count >= FAILURES_ALLOWED && lock.until > Date.now())
        return again('Too many failed attempts; try again in 15 minutes.', 429);
      const user = await engine.access.authenticateUser(email, body.password ?? '');
      if (!user) {
        const count = (lock && lock.until > Date.now() ? lock.count : 0) + 1;
        failures.set(email, { count, until: Date.now() + LOCK_MS });
        log.warn('failed sign-in', { email, ip: req.ip });
        return again('Wrong email or password.', 401);
      }
      failures.delete(email);
      const { token } = await engine.access.createSession(user.id, engine.clock.now());
      res.set('Set-Cookie', [cookie(SESSION_COOKIE, token, SESSION_TTL_MS), cookie(LOGIN_COOKIE, '', 0)]);
      res.redirect(303, safeNext(body.next));
    });

    router.post('/logout', guard('read'), async (req, res) => {
      await engine.access.endSession(req.sessionToken!);
      res.set('Set-Cookie', cookie(SESSION_COOKIE, '', 0));
      res.redirect(303, '/login');
    });
  }

  return { load, guard, routes };
}
