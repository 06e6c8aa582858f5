import { Router, type Request } from 'express';
import { verifyToken, type UnsubscribePayload } from '../consent/tokens.ts';
import { appendConsentEvents } from '../consent/ledger.ts';
import { withTransaction } from '../db/tx.ts';
import type { Engine } from '../engine.ts';
import { AppError } from '../errors.ts';
import { escapeHtml, page } from './page.ts';

/**
 * Unsubscribe links from messages. GET only shows a page (mail scanners follow links; a GET must
 * change nothing); its button POSTs. Mail clients' one-click unsubscribe (RFC 8058) POSTs
 * `List-Unsubscribe=One-Click` to the same URL, without cookies or login.
 */
export function unsubscribeRouter(engine: Engine): Router {
  const router = Router();
  const { database } = engine;

  function payloadOf(req: Request): UnsubscribePayload {
    const payload = verifyToken(engine.secret, req.params.token as string);
    if (!payload) throw new AppError('not_found', 'this unsubscribe link is not valid');
    return payload;
  }

  router.get('/:token', async (req, res) => {
    payloadOf(req);
    res.type('html').send(
      page(
        'Unsubscribe',
        `<h1>Unsubscribe</h1><p>Do you want to stop receiving these messages?</p>
         <form method="post" action="${escapeHtml(req.originalUrl)}"><button type="submit">Unsubscribe</button></form>`,
      ),
    );
  });

  router.post('/:token', async (req, res) => {
    const payload = payloadOf(req);
    await withTransaction(database.pool, (client) =>
      appendConsentEvents(client, [
        {
          leadId: payload.lead,
          channel: payload.channel,
          purpose: payload.purpose,
          action: 'withdraw',
          source: req.body?.['List-Unsubscribe'] === 'One-Click' ? 'one-click-unsubscribe' : 'unsubscribe-link',
          evidence: { message: payload.message, ip: req.ip, user_agent: req.get('user-agent') ?? null },
          actor: 'recipient',
          occurredAt: new Date(),
        },
      ]),
    );
    res.type('html').send(page('Unsubscribed', '<h1>You are unsubscribed</h1><p>You will not receive these messages any more.</p>'));
  });

  return router;
}
