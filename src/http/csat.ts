import { Router, type Request, type Response } from 'express';
import { verifyToken, type CsatPayload } from '../consent/tokens.ts';
import type { Engine } from '../engine.ts';
import { escapeHtml } from '../render/html.ts';
import { languageFor, say } from '../render/locale.ts';
import { page } from './page.ts';

const SCORES = [1, 2, 3, 4, 5];

/**
 * The satisfaction survey page of a `{{csat_link}}`: one question, five buttons, no login (the
 * signed token names the contact and the person). GET only shows the question (mail scanners
 * follow links); a button POSTs the score. A second answer replaces the first. A token that was
 * altered or forged gets 400 and a page saying so, in the language of whoever it claims to be.
 */
export function csatRouter(engine: Engine): Router {
  const router = Router();

  const payloadOf = (req: Request) => verifyToken(engine.secret, req.params.token as string, 'csat', engine.clock.now());

  async function show(req: Request, res: Response, token: CsatPayload | undefined, answered?: number): Promise<void> {
    const { lang, text } = languageFor(token ? await engine.leads.localeOf(token.lead) : null);
    const t = text.csat;
    if (!token) {
      res
        .status(400)
        .type('html')
        .send(page(lang, t.invalidTitle, `<h1>${t.invalidTitle}</h1><p>${t.invalidText}</p>`));
      return;
    }
    const action = escapeHtml(req.originalUrl.split('?')[0]!);
    const buttons = SCORES.map((s) => `<button type="submit" name="score" value="${s}">${s}</button>`).join(' ');
    const thanks = answered
      ? `<p role="status"><strong>${t.thanks}</strong>. ${escapeHtml(say(t.thanksText, { score: String(answered) }))}</p>`
      : '';
    res
      .type('html')
      .send(
        page(lang, t.title, `<h1>${t.title}</h1>${thanks}<p>${t.question}</p><form method="post" action="${action}">${buttons}</form>`),
      );
  }

  router.get('/:token', async (req, res) => show(req, res, payloadOf(req)));

  router.post('/:token', async (req, res) => {
    const token = payloadOf(req);
    const score = Number((req.body as Record<string, string | undefined>).score);
    if (!token || !SCORES.includes(score)) {
      // A valid link with a score outside 1–5 shows the question again.
      await show(req, res.status(token ? 422 : 400), token);
      return;
    }
    await engine.inbox.answerCsat(token.contact, score);
    await show(req, res, token, score);
  });

  return router;
}
