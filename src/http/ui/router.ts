import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import { formBody } from '../body.ts';
import { auditRoutes } from './audit.ts';
import { campaignPageRoutes } from './campaign-page.ts';
import { campaignRoutes } from './campaigns.ts';
import { inboxRoutes } from './inbox.ts';
import { jobsRoutes } from './jobs.ts';
import { runRoutes } from './run.ts';
import { sendTestRoutes } from './send-test.ts';
import { homeOf, page } from './kit.ts';
import { leadRoutes } from './leads.ts';
import { reportRoutes } from './report.ts';
import { sessions } from './session.ts';

/**
 * The web UI, server-rendered, no scripts: sign-in (session.ts), the service inbox (inbox.ts), the
 * consent audit (audit.ts), the marketer's campaigns (campaigns.ts, campaign-page.ts), their reports with
 * charts (report.ts) and leads (leads.ts); and for admins Agenda's own dashboard (jobs.ts, a script page of
 * its own). Each person lands on their role's own part.
 */
export function uiRouter(engine: Engine): Router {
  const router = Router();
  const session = sessions(engine);
  const ui = { page, guard: session.guard };

  router.use(formBody('form'));
  router.use(session.load);
  // Times show in the signed-in person's own zone, else the installation's.
  router.use((req, res, next) => {
    res.locals.timeZone = req.session?.user.timeZone ?? engine.config.uiTimeZone;
    next();
  });

  router.get('/', (req, res) => {
    const role = req.session?.user.role;
    if (!role) return res.redirect(303, '/login');
    res.redirect(303, homeOf(role));
  });

  session.routes(router);
  inboxRoutes(router, engine, ui);
  auditRoutes(router, engine, ui);
  campaignRoutes(router, engine, ui);
  campaignPageRoutes(router, engine, ui);
  sendTestRoutes(router, engine, ui);
  runRoutes(router, engine, ui);
  leadRoutes(router, engine, ui);
  reportRoutes(router, engine, ui);
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
