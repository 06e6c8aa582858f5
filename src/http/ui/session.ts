import crypto from 'node:crypto';
import type { Request, RequestHandler, Router } from 'express';
import { can } from '../../access/roles.ts';
import { sameSecret } from '../../access/secrets.ts';
import { SESSION_TTL_MS } from '../../access/sessions.ts';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import { log } from '../../log.ts';
import { IANAZone } from 'luxon';
import { field, homeOf, page, type Guard } from './kit.ts';

/**
 * Signing in and out. Sessions live in PostgreSQL behind an HttpOnly SameSite cookie; every form
 * carries the session's CSRF token (the login form a double-submit cookie), so another site can
 * neither read nor post on someone's behalf. Too many wrong passwords are throttled by account and
 * by client address (access/sign-in.ts); `req.ip` trusts X-Forwarded-For only from a loopback proxy.
 */
const SESSION_COOKIE = 'tp_session';
const LOGIN_COOKIE = 'tp_login';

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
function safeNext(next: unknown): string | undefined {
  return typeof next === 'string' && /^\/(?!\/)[\w\-/?=&%.]*$/.test(next) ? next : undefined;
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
      if (req.session) return res.redirect(303, safeNext(req.query.next) ?? homeOf(req.session.user.role));
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
      const result = await engine.access.signIn({ email, password: body.password ?? '', address: req.ip });
      if (result.outcome === 'throttled') {
        const minutes = Math.max(1, Math.ceil(result.retryAfterMs / 60_000));
        log.warn('sign-in throttled', { account: result.account, ip: req.ip });
        res.set('Retry-After', String(Math.ceil(result.retryAfterMs / 1000)));
        return again(`Too many failed attempts; try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`, 429);
      }
      if (result.outcome === 'refused') {
        log.warn('failed sign-in', { account: result.account, ip: req.ip });
        return again('Wrong email or password.', 401);
      }
      const { token } = await engine.access.createSession(result.user.id, engine.clock.now());
      res.set('Set-Cookie', [cookie(SESSION_COOKIE, token, SESSION_TTL_MS), cookie(LOGIN_COOKIE, '', 0)]);
      res.redirect(303, safeNext(body.next) ?? homeOf(result.user.role));
    });

    // Each person's own zone for the times the pages show; empty goes back to UI_TIMEZONE.
    router.post('/me/time-zone', guard('read'), async (req, res) => {
      const zone = field(req, 'time_zone');
      if (zone && !IANAZone.isValidZone(zone)) {
        throw new AppError(
          'invalid_input',
          `'${zone}' is not a time zone: name one like Europe/Berlin or America/New_York, or leave it empty for ${engine.config.uiTimeZone}`,
        );
      }
      await engine.access.setTimeZone(req.session!.user.id, zone || null);
      res.redirect(303, safeNext(field(req, 'next')) ?? homeOf(req.session!.user.role));
    });

    router.post('/logout', guard('read'), async (req, res) => {
      await engine.access.endSession(req.sessionToken!);
      res.set('Set-Cookie', cookie(SESSION_COOKIE, '', 0));
      res.redirect(303, '/login');
    });
  }

  return { load, guard, routes };
}
