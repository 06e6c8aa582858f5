import { Router, type Request } from 'express';
import type { Channel } from '../channels/channel.ts';
import { verifyToken, type UnsubscribePayload } from '../consent/tokens.ts';
import type { Engine } from '../engine.ts';
import { AppError } from '../errors.ts';
import { escapeHtml } from '../render/html.ts';
import { languageFor, say, whatOf } from '../render/locale.ts';
import { page } from './page.ts';

/**
 * Unsubscribe links from messages, and the preference page they open. GET only shows pages (mail
 * scanners follow links; a GET must change nothing); buttons POST. Mail clients' one-click
 * unsubscribe (RFC 8058) POSTs `List-Unsubscribe=One-Click` to the same URL, without cookies or
 * login. A token is signed per message and names one person: it can withdraw any of their
 * consents, and nothing else. Pages speak the person's language (render/locale.ts).
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

  const languageOf = async (payload: UnsubscribePayload) => languageFor(await engine.leads.localeOf(payload.lead));

  router.get('/:token', async (req, res) => {
    const payload = payloadOf(req);
    const action = escapeHtml(req.originalUrl.split('?')[0]!);
    const [rows, { lang, text }] = await Promise.all([engine.consent.preferences(payload.lead), languageOf(payload)]);
    const t = text.unsubscribe;
    const items = rows
      .map((r) => {
        const label = escapeHtml(whatOf(text, r.purpose, r.channel));
        return r.status === 'withdrawn'
          ? `<li>${label}: ${t.unsubscribed}</li>`
          : `<li><form method="post" action="${action}/preferences"><input type="hidden" name="channel" value="${r.channel}">` +
              `<input type="hidden" name="purpose" value="${escapeHtml(r.purpose)}">${label}: ${t.subscribed} <button type="submit">${t.button}</button></form></li>`;
      })
      .join('');
    const question = say(t.question, { what: whatOf(text, payload.purpose, payload.channel) });
    res.type('html').send(
      page(
        lang,
        t.title,
        `<h1>${t.title}</h1><p>${escapeHtml(question)}</p>
         <form method="post" action="${action}"><button type="submit">${t.button}</button></form>
         <h2>${t.preferences}</h2><ul>${items || `<li>${t.none}</li>`}</ul>`,
      ),
    );
  });

  router.post('/:token', async (req, res) => {
    const payload = payloadOf(req);
    const oneClick = req.body?.['List-Unsubscribe'] === 'One-Click';
    await withdraw(req, payload, payload.channel, payload.purpose, oneClick ? 'one-click-unsubscribe' : 'unsubscribe-link');
    const { lang, text } = await languageOf(payload);
    const t = text.unsubscribe;
    res.type('html').send(page(lang, t.doneTitle, `<h1>${t.doneHeading}</h1><p>${t.doneText}</p>`));
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
