import { Router, type Request } from 'express';
import type { Channel } from '../channels/channel.ts';
import { verifyToken, type UnsubscribePayload } from '../consent/tokens.ts';
import type { Engine } from '../engine.ts';
import { AppError } from '../errors.ts';
import { escapeHtml } from '../render/html.ts';
import { page } from './page.ts';

const CHANNEL_NAMES = { email: 'email', sms: 'text messages' } as const;

/**
 * Unsubscribe links from messages, and the preference page they open. GET only shows pages (mail
 * scanners follow links; a GET must change nothing); buttons POST. Mail clients' one-click
 * unsubscribe (RFC 8058) POSTs `List-Unsubscribe=One-Click` to the same URL, without cookies or
 * login. A token is signed per message and names one person: it can withdraw any of their
 * consents, and nothing else.
 */
export function unsubscribeRouter(engine: Engine): Router {
  const router = Router();

  function payloadOf(req: Request): UnsubscribePayload {
    const payload = verifyToken(engine.secret, req.params.token as string, 'unsubscribe', engine.clock.now());
    if (!payload) throw new AppError('not_found', 'this unsubscribe link is not valid');
    return payload;
  }

  const withdraw = (req: Request, payload: UnsubscribePayload, channel: Channel, purpose: string, source: string) =>
    engine.consent.record({
      leadId: payload.lead,
      channel,
      purpose,
      action: 'withdraw',
      source,
      evidence: { message: payload.message, ip: req.ip ?? null, user_agent: req.get('user-agent') ?? null },
      actor: 'recipient',
    });

  router.get('/:token', async (req, res) => {
    const payload = payloadOf(req);
    const action = escapeHtml(req.originalUrl.split('?')[0]!);
    const rows = await engine.consent.preferences(payload.lead);
    const items = rows
      .map((r) => {
        const label = `${escapeHtml(r.purpose)} ${CHANNEL_NAMES[r.channel]}`;
        return r.status === 'withdrawn'
          ? `<li>${label}: unsubscribed</li>`
          : `<li><form method="post" action="${action}/preferences"><input type="hidden" name="channel" value="${r.channel}">` +
              `<input type="hidden" name="purpose" value="${escapeHtml(r.purpose)}">${label}: subscribed <button type="submit">Unsubscribe</button></form></li>`;
      })
      .join('');
    res.type('html').send(
      page(
        'Unsubscribe',
        `<h1>Unsubscribe</h1><p>Stop receiving ${escapeHtml(payload.purpose)} ${CHANNEL_NAMES[payload.channel]} from us?</p>
         <form method="post" action="${action}"><button type="submit">Unsubscribe</button></form>
         <h2>Your preferences</h2><ul>${items || '<li>No subscriptions.</li>'}</ul>`,
      ),
    );
  });

  router.post('/:token', async (req, res) => {
    const payload = payloadOf(req);
    const oneClick = req.body?.['List-Unsubscribe'] === 'One-Click';
    await withdraw(req, payload, payload.channel, payload.purpose, oneClick ? 'one-click-unsubscribe' : 'unsubscribe-link');
    res.type('html').send(page('Unsubscribed', '<h1>You are unsubscribed</h1><p>You will not receive these messages any more.</p>'));
  });

  router.post('/:token/preferences', async (req, res) => {
    const payload = payloadOf(req);
    const { channel, purpose } = (req.body ?? {}) as { channel?: string; purpose?: string };
    const rows = await engine.consent.preferences(payload.lead);
    const chosen = rows.find((r) => r.channel === channel && r.purpose === purpose);
    if (!chosen) throw new AppError('not_found', 'no such subscription');
    await withdraw(req, payload, chosen.channel, chosen.purpose, 'preference-page');
    res.redirect(303, req.originalUrl.replace(/\/preferences$/, ''));
  });

  return router;
}
