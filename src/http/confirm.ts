import { Router, type Request } from 'express';
import { verifyToken } from '../consent/tokens.ts';
import type { Engine } from '../engine.ts';
import { AppError } from '../errors.ts';
import type { ConfirmOutcome } from '../consent/double-opt-in.ts';
import { escapeHtml } from '../render/html.ts';
import { languageFor, say, whatOf } from '../render/locale.ts';
import type { Catalogue } from '../render/locales/en.ts';
import { page } from './page.ts';

/** The title, heading and text of the page after the button, per outcome. */
const OUTCOME_PAGES: Record<ConfirmOutcome, (t: Catalogue['confirm']) => [string, string, string]> = {
  confirmed: (t) => [t.confirmedTitle, t.confirmedHeading, t.confirmedText],
  'already-confirmed': (t) => [t.alreadyTitle, t.alreadyTitle, t.alreadyText],
  superseded: (t) => [t.supersededTitle, t.supersededTitle, t.supersededText],
};

/**
 * Double opt-in links. GET shows a page and changes nothing (mail scanners open links); its button
 * POSTs, which records the confirmation with the IP and user agent it came from. Pages speak the
 * person's language (render/locale.ts).
 */
export function confirmRouter(engine: Engine): Router {
  const router = Router();

  const tokenOf = (req: Request) => {
    const token = verifyToken(engine.secret, req.params.token as string, 'confirm', engine.clock.now());
    if (!token) throw new AppError('not_found', 'this confirmation link is not valid or has expired');
    return token;
  };

  router.get('/:token', async (req, res) => {
    const token = tokenOf(req);
    const { lang, text } = languageFor(await engine.leads.localeOf(token.lead));
    const t = text.confirm;
    const question = say(t.question, { what: whatOf(text, token.purpose, token.channel) });
    res.type('html').send(
      page(
        lang,
        t.title,
        `<h1>${t.title}</h1><p>${escapeHtml(question)}</p>
         <form method="post" action="${escapeHtml(req.originalUrl.split('?')[0]!)}"><button type="submit">${t.button}</button></form>`,
      ),
    );
  });

  router.post('/:token', async (req, res) => {
    const token = tokenOf(req);
    const outcome = await engine.consent.confirm(token, { ip: req.ip ?? null, user_agent: req.get('user-agent') ?? null });
    const { lang, text } = languageFor(await engine.leads.localeOf(token.lead));
    const [title, heading, body] = OUTCOME_PAGES[outcome](text.confirm);
    res
      .status(outcome === 'confirmed' ? 200 : 409)
      .type('html')
      .send(page(lang, title, `<h1>${heading}</h1><p>${body}</p>`));
  });

  return router;
}
