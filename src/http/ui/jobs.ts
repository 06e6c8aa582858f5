import type { Agenda } from 'agenda';
import { createExpressMiddleware } from 'agendash';
import type { NextFunction, Request, Response, Router } from 'express';
import { can } from '../../access/roles.ts';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import type { Ui } from './kit.ts';

/**
 * Agenda's own dashboard (agendash) at /admin/jobs, for admins signed in to the web UI: the jobs of
 * the scheduler (campaign runs, sequence ticks, escalations), their state, and requeue, retry,
 * pause or delete. It is a script page, so this path alone answers with agendash's policy (scripts,
 * styles, fonts and images from this origin, inline styles) instead of our script-free one, and
 * `X-Frame-Options: DENY` keeps it out of frames. Its actions are JSON posts without our form
 * token: they are taken only as `application/json` from a page of this origin (a form of another
 * site can send neither), on top of the SameSite session cookie.
 */
const JOBS_PATH = '/admin/jobs';

export function jobsRoutes(router: Router, engine: Engine, ui: Ui): void {
  let dashboard: { agenda: Agenda; handler: Router } | undefined;
  const readGuard = ui.guard('jobs');

  router.use(JOBS_PATH, (req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'GET' || req.method === 'HEAD') return readGuard(req, res, next);
    if (!req.session || !can(req.session.user.role, 'jobs')) throw new AppError('forbidden', 'only admins may change jobs');
    if (!req.is('application/json') || !sameOrigin(req)) {
      throw new AppError('forbidden', 'job changes are taken only from the jobs dashboard of this site');
    }
    next();
  });
  router.use(JOBS_PATH, (req: Request, res: Response, next: NextFunction) => {
    // Its pages load assets relative to the folder: /admin/jobs must be /admin/jobs/.
    if (req.originalUrl === JOBS_PATH) return res.redirect(301, `${JOBS_PATH}/`);
    const agenda = engine.scheduler();
    if (!agenda) throw new AppError('not_found', 'the scheduler does not run in this process');
    // The scheduler may be started anew (after the database came back): the dashboard follows it.
    if (dashboard?.agenda !== agenda) dashboard = { agenda, handler: createExpressMiddleware(agenda) };
    res.set('X-Frame-Options', 'DENY');
    res.set('Cache-Control', 'no-store');
    dashboard.handler(req, res, next);
  });
}

/** Whether the request's Origin (sent by browsers with every POST) is this site. */
function sameOrigin(req: Request): boolean {
  const origin = req.get('origin');
  if (!origin) return false;
  try {
    return new URL(origin).host === req.get('host');
  } catch {
    return false;
  }
}
