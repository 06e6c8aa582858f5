import crypto from 'node:crypto';
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { can, type Permission } from '../../access/roles.ts';
import { sameSecret } from '../../access/secrets.ts';
import { createSession, endSession, findSession, SESSION_TTL_MS, type Session } from '../../access/sessions.ts';
import { authenticateUser, listUsers, setAvailable } from '../../access/users.ts';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import { acceptContact, assignContact, closeContact, contactPlacement, getContact, listContacts, replyToContact, type Actor, type ContactFilter } from '../../inbound/contacts.ts';
import { contactInReach, queuesInReach, type Viewer } from '../../inbound/reach.ts';
import type { Queue } from '../../inbound/rules.ts';
import { log } from '../../log.ts';
import { auditRoutes } from './audit.ts';
import { renderPage } from './views.ts';

/** Renders a page with the layout, the signed-in user and what their role may open. */
export type PageRenderer = (res: Response, name: string, title: string, req: Request, context?: Record<string, unknown>, status?: number) => void;
export type Guard = (permission: Permission) => (req: Request, res: Response, next: NextFunction) => void;

declare module 'express-serve-static-core' {
  interface Request {
    session?: Session;
    sessionToken?: string;
  }
}

const SESSION_COOKIE = 'tp_session';
const LOGIN_COOKIE = 'tp_login';

function cookies(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

/** Only paths of our own after login, never another origin (`//evil.example`). */
function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?!\/)[\w\-/?=&%.]*$/.test(next) ? next : '/inbox';
}

/** Too many wrong passwords for one login lock it for a while; kept per process. */
const FAILURES_ALLOWED = 5;
const LOCK_MS = 15 * 60_000;
const failures = new Map<string, { count: number; until: number }>();

const FLASH: Record<string, string> = {
  accepted: 'Accepted: the contact is yours.',
  replied: 'Reply queued: it goes out on the contact’s channel.',
  assigned: 'Reassigned.',
  closed: 'Closed.',
};

/**
 * The web UI: login, the service inbox, and its actions. Sessions live in PostgreSQL behind an
 * HttpOnly SameSite cookie; every form carries the session's CSRF token (login a double-submit
 * cookie), so another site can neither read nor post on someone's behalf.
 */
export function uiRouter(engine: Engine): Router {
  const router = Router();
  const { pool } = engine.database;
  const secure = engine.config.publicUrl.startsWith('https:');
  const cookie = (name: string, value: string, maxAgeMs: number) =>
    `${name}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${Math.floor(maxAgeMs / 1000)}${secure ? '; Secure' : ''}`;

  router.use(express.urlencoded({ extended: false, limit: '64kb' }));
  router.use(async (req, _res, next) => {
    const token = cookies(req)[SESSION_COOKIE];
    if (token) {
      req.session = await findSession(pool, token, engine.clock.now());
      req.sessionToken = token;
    }
    next();
  });

  const page: PageRenderer = (res, name, title, req, context = {}, status = 200) => {
    const flash = typeof req.query.done === 'string' && FLASH[req.query.done] ? { text: FLASH[req.query.done], kind: '' } : undefined;
    const role = req.session?.user.role;
    const allowed = role ? { inbound: can(role, 'inbound'), work: can(role, 'inbound:work'), consent: can(role, 'consent') } : {};
    res.status(status).type('html').set('Cache-Control', 'no-store').send(
      renderPage(name, { title, user: req.session?.user, csrf: req.session?.csrfToken, flash, can: allowed, ...context }),
    );
  };

  /** Logged in, holding `permission`, and (for forms) posting this session's CSRF token. */
  const guard: Guard = (permission) => (req, res, next) => {
    if (!req.session) return res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
    if (req.method === 'POST' && !sameSecret((req.body as Record<string, string>)?._csrf, req.session.csrfToken)) {
      throw new AppError('forbidden', 'this form has expired or did not come from Touchpoint; reload the page and try again');
    }
    if (!can(req.session.user.role, permission)) throw new AppError('forbidden', `the ${req.session.user.role} role has no access to this page`);
    next();
  };

  router.get('/', (req, res) => {
    const role = req.session?.user.role;
    if (!role) return res.redirect(303, '/login');
    if (can(role, 'inbound')) return res.redirect(303, '/inbox');
    if (can(role, 'consent')) return res.redirect(303, '/audit');
    page(res, 'error', 'Touchpoint', req, { heading: `Signed in as ${req.session!.user.email}`, message: 'The web UI has no pages for your role yet: campaigns are worked with the CLI and the API.' });
  });

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
    if (lock && lock.count >= FAILURES_ALLOWED && lock.until > Date.now()) return again('Too many failed attempts; try again in 15 minutes.', 429);
    const user = await authenticateUser(pool, email, body.password ?? '');
    if (!user) {
      const count = (lock && lock.until > Date.now() ? lock.count : 0) + 1;
      failures.set(email, { count, until: Date.now() + LOCK_MS });
      log.warn('failed sign-in', { email, ip: req.ip });
      return again('Wrong email or password.', 401);
    }
    failures.delete(email);
    const { token } = await createSession(pool, user.id, engine.clock.now());
    res.set('Set-Cookie', [cookie(SESSION_COOKIE, token, SESSION_TTL_MS), cookie(LOGIN_COOKIE, '', 0)]);
    res.redirect(303, safeNext(body.next));
  });

  router.post('/logout', guard('read'), async (req, res) => {
    await endSession(pool, req.sessionToken!);
    res.set('Set-Cookie', cookie(SESSION_COOKIE, '', 0));
    res.redirect(303, '/login');
  });

  router.post('/me/availability', guard('inbound:work'), async (req, res) => {
    await setAvailable(pool, req.session!.user.id, (req.body as Record<string, string>).available === 'true');
    res.redirect(303, '/inbox');
  });

  const viewerOf = (session: Session): Viewer => ({ role: session.user.role, email: session.user.email, userId: session.user.id });
  const queuesOf = (session: Session): Queue[] => queuesInReach(engine.loadCampaigns().inbound, viewerOf(session));

  router.get('/inbox', guard('inbound'), async (req, res) => {
    const session = req.session!;
    const now = engine.clock.now();
    const queues = queuesOf(session);
    const queueIds = queues.map((q) => q.id);
    const selected = typeof req.query.queue === 'string' && queueIds.includes(req.query.queue) ? req.query.queue : undefined;
    const view = selected ? 'queue' : req.query.view === 'closed' ? 'closed' : 'mine';
    const scope: ContactFilter = session.user.role === 'service' ? { reach: { queues: queueIds, userId: session.user.id } } : {};
    const filter: ContactFilter =
      view === 'queue' ? { queue: selected, status: 'open' } : view === 'closed' ? { ...scope, status: 'closed', limit: 100 } : { mine: session.user.id, status: 'open' };
    const [contacts, open] = await Promise.all([listContacts(pool, filter, now), listContacts(pool, { ...scope, status: 'open', limit: 1000 }, now)]);
    const mine = open.filter((c) => c.assignee === session.user.email).length;
    page(res, 'inbox', 'Inbox', req, {
      nav: { inbox: true },
      view,
      heading: view === 'queue' ? `Queue: ${queues.find((q) => q.id === selected)!.name ?? selected}` : view === 'closed' ? 'Closed' : 'My contacts',
      contacts,
      mineCount: mine,
      queues: queues.map((q) => ({
        id: q.id,
        label: q.name ?? q.id,
        active: q.id === selected,
        open: open.filter((c) => c.queue === q.id).length,
        overdue: open.filter((c) => c.queue === q.id && c.overdue).length,
      })),
    });
  });

  /** The id of a contact this person may see; others answer 404, as if they did not exist. */
  async function visibleContact(req: Request): Promise<number> {
    const id = Number(req.params.id);
    const missing = new AppError('not_found', 'no such contact');
    if (!Number.isSafeInteger(id) || id <= 0) throw missing;
    const placement = await contactPlacement(pool, id);
    if (!placement || !contactInReach(engine.loadCampaigns().inbound, viewerOf(req.session!), placement)) throw missing;
    return id;
  }

  router.get('/inbox/:id', guard('inbound'), async (req, res) => {
    const contact = await getContact(pool, await visibleContact(req), engine.clock.now());
    // The message as the person got it, minus the working unsubscribe link: a click here would withdraw their consent.
    if (contact.original?.text) contact.original.text = contact.original.text.replace(/\/unsubscribe\/[\w.-]+/g, '/unsubscribe/…');
    const users = await listUsers(pool, ['service', 'admin']);
    page(res, 'contact', contact.subject ?? 'Contact', req, {
      nav: { inbox: true },
      contact,
      open: contact.status !== 'closed' && can(req.session!.user.role, 'inbound:work'),
      canAccept: contact.status === 'new' || contact.status === 'assigned',
      users,
      queues: engine.loadCampaigns().inbound.queues.map((q) => ({ id: q.id, label: q.name ?? q.id, selected: q.id === contact.queue })),
    });
  });

  const actor = (req: Request): Actor => ({ label: `user:${req.session!.user.email}`, userId: req.session!.user.id });
  const field = (req: Request, name: string) => ((req.body as Record<string, string | undefined>)[name] ?? '').trim();
  const required = (req: Request, name: string, max: number) => {
    const value = field(req, name);
    if (!value || value.length > max) throw new AppError('invalid_input', `${name} is required (at most ${max} characters)`);
    return value;
  };

  router.post('/inbox/:id/accept', guard('inbound:work'), async (req, res) => {
    const id = await visibleContact(req);
    await acceptContact(pool, id, actor(req), engine.clock.now());
    res.redirect(303, `/inbox/${id}?done=accepted`);
  });

  router.post('/inbox/:id/reply', guard('inbound:work'), async (req, res) => {
    const id = await visibleContact(req);
    const channel = field(req, 'channel');
    await replyToContact(
      pool,
      id,
      { text: required(req, 'text', 20_000), channel: channel === 'email' || channel === 'sms' ? channel : undefined },
      actor(req),
      engine.clock.now(),
    );
    res.redirect(303, `/inbox/${id}?done=replied`);
  });

  router.post('/inbox/:id/assign', guard('inbound:work'), async (req, res) => {
    const id = await visibleContact(req);
    const user = field(req, 'user') || undefined;
    const queue = field(req, 'queue') || undefined;
    await assignContact(pool, engine.loadCampaigns(), id, { user, queue }, actor(req), engine.clock.now());
    res.redirect(303, `/inbox/${id}?done=assigned`);
  });

  router.post('/inbox/:id/close', guard('inbound:work'), async (req, res) => {
    const id = await visibleContact(req);
    await closeContact(pool, id, required(req, 'resolution', 2000), actor(req), engine.clock.now());
    res.redirect(303, `/inbox/${id}?done=closed`);
  });

  auditRoutes(router, engine, { page, guard });

  router.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!(err instanceof AppError)) return next(err);
    page(res, 'error', err.status === 404 ? 'Not found' : 'Not possible', req, { heading: err.status === 404 ? 'Not found' : 'That did not work', message: err.message }, err.status);
  });

  return router;
}
