import { Router, type Request } from 'express';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import type { Actor } from '../../inbound/contacts.ts';
import type { Viewer } from '../../inbound/reach.ts';
import { requirePermission } from '../auth.ts';
import { jsonBody } from '../body.ts';
import { validateBody, validateQuery } from '../validate.ts';
import { acceptBody, assignBody, closeBody, inboundQuery, replyBody } from './schemas.ts';

/** Inbound contacts for service tools: list, read, and the actions of the inbox. */
export function inboundRouter(engine: Engine): Router {
  const router = Router();
  const { inbox } = engine;

  /**
   * An API key acts for its own person, or for the user a request names (accept, reply), so the
   * history says who did it.
   */
  async function actorOf(req: Request, userEmail?: string): Promise<Actor> {
    const key = `key:${req.apiKey!.name}`;
    const own = req.apiKey!.user;
    if (!userEmail && own) return { label: `${key} for ${own.email}`, userId: own.id };
    if (!userEmail) return { label: key };
    const named = await engine.access.findActiveUser(userEmail);
    if (!named) throw new AppError('unprocessable', `no user '${userEmail}'`);
    return { label: `${key} for ${named.email}`, userId: named.id };
  }

  const viewerOf = (req: Request): Viewer => ({ role: req.apiKey!.role, email: req.apiKey!.user?.email, userId: req.apiKey!.user?.id });
  /** The contact of the URL, when it is within the key's reach; anything else answers 404. */
  const contactOf = (req: Request) => inbox.reachable(viewerOf(req), req.params.id as string);

  router.get('/', requirePermission('inbound'), async (req, res) => {
    res.json({ contacts: await inbox.list(viewerOf(req), validateQuery(req, inboundQuery)) });
  });

  router.get('/:id', requirePermission('inbound'), async (req, res) => {
    res.json(await inbox.get(await contactOf(req)));
  });

  router.post('/:id/accept', requirePermission('inbound:work'), jsonBody('small'), async (req, res) => {
    const body = validateBody(req, acceptBody);
    const id = await contactOf(req);
    await inbox.accept(id, await actorOf(req, body.user));
    res.json(await inbox.get(id));
  });

  router.post('/:id/reply', requirePermission('inbound:work'), jsonBody('reply'), async (req, res) => {
    const body = validateBody(req, replyBody);
    const { messageId } = await inbox.reply(await contactOf(req), body, await actorOf(req, body.user));
    res.status(202).json({ message: messageId, status: 'queued' });
  });

  router.post('/:id/assign', requirePermission('inbound:work'), jsonBody('small'), async (req, res) => {
    const body = validateBody(req, assignBody);
    const id = await contactOf(req);
    await inbox.assign(id, body, await actorOf(req));
    res.json(await inbox.get(id));
  });

  router.post('/:id/close', requirePermission('inbound:work'), jsonBody('small'), async (req, res) => {
    const body = validateBody(req, closeBody);
    const id = await contactOf(req);
    await inbox.close(id, body.resolution, await actorOf(req, body.user));
    res.json(await inbox.get(id));
  });

  return router;
}
