import { Router, type NextFunction, type Request, type Response } from 'express';
import { can } from '../../access/roles.ts';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import { formBody } from '../body.ts';
import { auditRoutes } from './audit.ts';
import { inboxRoutes } from './inbox.ts';
import { jobsRoutes } from './jobs.ts';
import { page } from './kit.ts';
import { sessions } from './session.ts';

/**
 * The web UI, server-rendered, no scripts: sign-in (session.ts), the service inbox (inbox.ts) and
 * the consent audit (audit.ts); and for admins Agenda's own dashboard (jobs.ts, a script page of
 * its own). Each person lands on the first part their role may open.
 */
export function uiRouter(engine: Engine): Router {
  const router = Router();
  const session = sessions(engine);
  const ui = { page, guard: session.guard };

  router.use(formBody('form'));
  router.use(session.load);

  router.get('/', (req, res) => {
    const role = req.session?.user.role;
    if (!role) return res.redirect(303, '/login');
    if (can(role, 'inbound')) return res.redirect(303, '/inbox');
    if (can(role, 'consent')) return res.redirect(303, '/audit');
    page(res, 'error', 'Touchpoint', req, {
      heading: `Signed in as ${req.session!.user.email}`,
      message: 'The web UI has no pages for your role yet: campaigns are worked with the CLI and the API.',
    });
  });

  session.routes(router);
  inboxRoutes(router, engine, ui);
  auditRoutes(router, engine, ui);
  jobsRoutes(router, engine, ui);

  router.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!(err instanceof AppError)) return next(err);
    page(
      res,
      'error',
      err.status === 404 ? 'Not found' : 'Not possible',
      req,
      { heading: err.status === 404 ? 'Not found' : 'That did not work', message: err.message },
      err.status,
    );
  });

  return router;
}
