import { Router, type Request } from 'express';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import type { Actor } from '../../inbound/contacts.ts';
import type { ReachableContact } from '../../inbound/reach.ts';
import { apiViewer, requirePermission } from '../auth.ts';
import { jsonBody } from '../body.ts';
import { validateBody, validateQuery } from '../validate.ts';
import { acceptBody, assignBody, closeBody, inboundQuery, optOutBody, replyBody } from './schemas.ts';

/** Inbound contacts for service tools: list, read, and the actions of the inbox. */
export function inboundRouter(engine: Engine): Router {
  const router = Router();
  const { inbox } = engine;

  /**
   * Who acts, so the history says who did it: a key acts as its own person. Only an admin key may
   * name another user in the request (a tool working for the whole team); any other key naming
   * someone else is refused, or one person's key could act, and be recorded, as anyone.
   */
  async function actorOf(req: Request, userEmail?: string): Promise<Actor> {
    const { name, role, user: own } = req.apiKey!;
    const key = `key:${name}`;
    if (!userEmail || userEmail.toLowerCase() === own?.email.toLowerCase()) {
      return own ? { label: `${key} for ${own.email}`, userId: own.id } : { label: key };
    }
    if (role !== 'admin') {
      throw new AppError(
        'forbidden',
        `a ${role} key acts only as its own user (${own?.email ?? 'none'}); only an admin key may name another user`,
      );
    }
    const named = await engine.access.findActiveUser(userEmail);
    if (!named) throw new AppError('unprocessable', `no user '${userEmail}'`);
    return { label: `${key} for ${named.email}`, userId: named.id };
  }

  /** The contact of the URL, when it is within the key's reach; anything else answers 404. */
  const contactOf = (req: Request) => inbox.reachable(apiViewer(req), req.params.id as string);
  const answer = (req: Request, id: ReachableContact) => inbox.get(apiViewer(req), id);

  router.get('/', requirePermission('inbound'), async (req, res) => {
    res.json({ contacts: await inbox.list(apiViewer(req), validateQuery(req, inboundQuery)) });
  });

  router.get('/:id', requirePermission('inbound'), async (req, res) => {
    res.json(await answer(req, await contactOf(req)));
  });

  router.post('/:id/accept', requirePermission('inbound:work'), jsonBody('small'), async (req, res) => {
    const body = validateBody(req, acceptBody);
    const id = await contactOf(req);
    await inbox.accept(id, await actorOf(req, body.user));
    res.json(await answer(req, id));
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
    res.json(await answer(req, id));
  });

  router.post('/:id/close', requirePermission('inbound:work'), jsonBody('small'), async (req, res) => {
    const body = validateBody(req, closeBody);
    const id = await contactOf(req);
    await inbox.close(id, { resolution: body.resolution, sales: body.sales_opportunity }, await actorOf(req, body.user));
    res.json(await answer(req, id));
  });

  /** Records the opt-out the contact asks for, the acting user as actor (how an unverified request is completed). */
  router.post('/:id/opt-out', requirePermission('inbound:work'), jsonBody('small'), async (req, res) => {
    const body = validateBody(req, optOutBody);
    const id = await contactOf(req);
    await inbox.optOut(id, await actorOf(req, body.user));
    res.json(await answer(req, id));
  });

  return router;
}
