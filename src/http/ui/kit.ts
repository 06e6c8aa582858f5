import type { NextFunction, Request, Response } from 'express';
import { can, type Permission } from '../../access/roles.ts';
import type { Role } from '../../access/schema.ts';
import type { Session } from '../../access/sessions.ts';
import { AppError } from '../../errors.ts';
import { renderPage } from './views.ts';

/**
 * What every page module of the web UI shares: rendering a page inside the layout for the signed-in
 * person, and the guard each route puts in front of itself.
 */
declare module 'express-serve-static-core' {
  interface Request {
    session?: Session;
    sessionToken?: string;
  }
}

/** Renders a page with the layout, the signed-in user, what their role may open and the time zone of its times (`res.locals.timeZone`, UI_TIMEZONE). */
export type PageRenderer = (
  res: Response,
  name: string,
  title: string,
  req: Request,
  context?: Record<string, unknown>,
  status?: number,
) => void;
/** Logged in, holding `permission`, and (for forms) posting this session's CSRF token. */
export type Guard = (permission: Permission) => (req: Request, res: Response, next: NextFunction) => void;

export interface Ui {
  page: PageRenderer;
  guard: Guard;
}

/** Where each role lands after signing in: the part of the product it works in. */
const HOME: Record<Role, string> = { admin: '/inbox', marketer: '/campaigns', service: '/inbox', compliance: '/audit' };

export function homeOf(role: Role): string {
  return HOME[role];
}

/** Messages shown after an action redirects back (`?done=`). */
const FLASH: Record<string, string> = {
  accepted: 'Accepted: the contact is yours.',
  replied: 'Reply queued: it goes out on the contact’s channel.',
  assigned: 'Reassigned.',
  closed: 'Closed.',
  noted: 'Note added: only the team sees it.',
  'opted-out': 'Opt-out recorded: consent is withdrawn, with you as the one who recorded it.',
  'test-sent': 'Test sent: look for [TEST] in your inbox.',
  'run-started': 'Run recorded: its messages are queued and go out within their send windows.',
  retried:
    'Retry recorded: the failed steps holding people were recorded again, and the messages the provider refused are queued again; each still reaches a person once.',
};

export const page: PageRenderer = (res, name, title, req, context = {}, status = 200) => {
  const flash = typeof req.query.done === 'string' && FLASH[req.query.done] ? { text: FLASH[req.query.done], kind: '' } : undefined;
  const role = req.session?.user.role;
  const allowed = role
    ? {
        campaigns: can(role, 'write'),
        inbound: can(role, 'inbound'),
        work: can(role, 'inbound:work'),
        consent: can(role, 'consent'),
        jobs: can(role, 'jobs'),
      }
    : {};
  res
    .status(status)
    .type('html')
    .set('Cache-Control', 'no-store')
    .send(
      renderPage(name, {
        title,
        user: req.session?.user,
        csrf: req.session?.csrfToken,
        flash,
        can: allowed,
        home: role && homeOf(role),
        timeZone: res.locals.timeZone as string | undefined,
        path: req.originalUrl,
        ...context,
      }),
    );
};

/** A trimmed form field, '' when absent. */
export function field(req: Request, name: string): string {
  return ((req.body as Record<string, string | undefined>)[name] ?? '').trim();
}

/** A form field that must be given, within `max` characters. */
export function requiredField(req: Request, name: string, max: number): string {
  const value = field(req, name);
  if (!value || value.length > max) throw new AppError('invalid_input', `${name} is required (at most ${max} characters)`);
  return value;
}
