import express, { type NextFunction, type Request, type Response } from 'express';
import type { Engine } from '../engine.ts';
import { AppError } from '../errors.ts';
import { log } from '../log.ts';
import { campaignsRouter } from './api/campaigns.ts';
import { reportsRouter } from './api/reports.ts';
import { consentsRouter } from './api/consents.ts';
import { eventsRouter } from './api/events.ts';
import { inboundRouter } from './api/inbound.ts';
import { leadsRouter } from './api/leads.ts';
import { messagesRouter } from './api/messages.ts';
import { segmentRouter } from './api/segment.ts';
import { requireApiKey } from './auth.ts';
import { formBody } from './body.ts';
import { confirmRouter } from './confirm.ts';
import { csatRouter } from './csat.ts';
import { metricsHandler } from './metrics.ts';
import { openApiDocument } from './openapi/document.ts';
import { requestContext } from './request-context.ts';
import { opsRouter } from './ops.ts';
import { uiRouter } from './ui/router.ts';
import { unsubscribeRouter } from './unsubscribe.ts';
import { refuseNulInUrl } from './validate.ts';
import { webhooksRouter } from './webhooks.ts';

/** The HTTP surface: a thin shell that parses, checks the role, calls a domain function and answers. */
export function createApp(engine: Engine): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(requestContext);
  app.use((_req, res, next) => {
    res.set('X-Content-Type-Options', 'nosniff');
    res.set('Referrer-Policy', 'no-referrer');
    // Our pages are static forms: no scripts, no foreign resources, forms post only to us.
    res.set(
      'Content-Security-Policy',
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    next();
  });
  app.use(refuseNulInUrl);

  app.use(opsRouter(engine));
  app.get('/metrics', metricsHandler(engine));
  app.use('/unsubscribe', formBody('link'), unsubscribeRouter(engine));
  app.use('/confirm', formBody('link'), confirmRouter(engine));
  app.use('/csat', formBody('link'), csatRouter(engine));
  app.use('/webhooks', webhooksRouter(engine));

  const api = express.Router();
  // The description of the API holds no data: it needs no key.
  api.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  // The key first: each route parses its body (body.ts) only after the key and its role passed.
  // Segment's senders put the key in basic auth (the write key as user); every other route takes a bearer key.
  api.use('/segment', requireApiKey(engine.access.authenticateKey, { basic: true }), segmentRouter(engine));
  api.use(requireApiKey(engine.access.authenticateKey));
  api.use('/campaigns', campaignsRouter(engine));
  api.use('/events', eventsRouter(engine));
  api.use('/leads', leadsRouter(engine));
  api.use('/messages', messagesRouter(engine));
  api.use('/inbound', inboundRouter(engine));
  api.use('/consents', consentsRouter(engine));
  api.use('/reports', reportsRouter(engine));
  app.use('/api/v1', api);
  app.use(uiRouter(engine));

  app.use((req, _res, next) => next(new AppError('not_found', `no route for ${req.method} ${req.path}`)));
  app.use(errorHandler);
  return app;
}

function errorHandler(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  const status = (err as { status?: number; type?: string }).status;
  if (err instanceof AppError) {
    res.status(err.status).json({ ...err.body, error: err.code, message: err.message, details: err.details });
  } else if (typeof status === 'number' && status >= 400 && status < 500) {
    // body-parser's errors (malformed JSON, too large) carry their own 4xx status.
    res.status(status).json({ error: 'invalid_input', message: (err as Error).message, details: [] });
  } else {
    log.error('request failed', { method: req.method, route: req.routePattern ?? '(none)', error: err });
    res.status(500).json({ error: 'internal', message: 'internal error; see the server log', details: [] });
  }
}
