import { Router, type Request } from 'express';
import { verifyToken } from '../consent/tokens.ts';
import type { Engine } from '../engine.ts';
import { AppError } from '../errors.ts';
import { escapeHtml } from '../render/html.ts';
import { page } from './page.ts';

const OUTCOME_PAGES = {
  confirmed: ['Subscription confirmed', '<h1>Thank you</h1><p>Your subscription is confirmed.</p>'],
  'already-confirmed': ['Already confirmed', '<h1>Already confirmed</h1><p>This link was used before; nothing changed.</p>'],
  superseded: [
    'Link no longer valid',
    '<h1>This link is no longer valid</h1><p>Your preferences changed after it was sent; nothing changed now.</p>',
  ],
} as const;

/**
 * Double opt-in links. GET shows a page and changes nothing (mail scanners open links); its button
 * POSTs, which records the confirmation with the IP and user agent it came from.
 */
export function confirmRouter(engine: Engine): Router {
  const router = Router();

  const tokenOf = (req: Request) => {
    const token = verifyToken(engine.secret, req.params.token as string, 'confirm', engine.clock.now());
    if (!token) throw new AppError('not_found', 'this confirmation link is not valid or has expired');
    return token;
  };

  router.get('/:token', (req, res) => {
    const token = tokenOf(req);
    res.type('html').send(
      page(
        'Confirm your subscription',
        `<h1>Confirm your subscription</h1><p>Please confirm that you want to receive ${escapeHtml(token.purpose)} email from us.</p>
         <form method="post" action="${escapeHtml(req.originalUrl.split('?')[0]!)}"><button type="submit">Yes, subscribe me</button></form>`,
      ),
    );
  });

  router.post('/:token', async (req, res) => {
    const outcome = await engine.consent.confirm(tokenOf(req), { ip: req.ip ?? null, user_agent: req.get('user-agent') ?? null });
    const [title, body] = OUTCOME_PAGES[outcome];
    res
      .status(outcome === 'confirmed' ? 200 : 409)
      .type('html')
      .send(page(title, body));
  });

  return router;
}
