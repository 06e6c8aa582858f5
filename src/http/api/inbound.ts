import { Router, type Request } from 'express';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import type { Actor } from '../../inbound/contacts.ts';
import type { ReachableContact } from '../../inbound/reach.ts';
import { apiViewer, requirePermission } from '../auth.ts';
import { jsonBody } from '../body.ts';
import { validateBody, validateQuery } from '../validate.ts';
import {
  acceptBody,
  assignBody,
  cannedQuery,
  closeBody,
  inboundQuery,
  noteBody,
  optOutBody,
  replyBody,
  serviceLevelsQuery,
} from './schemas.ts';

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

  // Named routes before `/:id`, which would take their names for ids.
  router.get('/canned-answers', requirePermission('inbound:work'), (_req, res) => {
    res.json({ canned_answers: inbox.cannedAnswers() });
  });

  /** Per queue the key's person leads (every queue for admins): first response, resolution, breaches. */
  router.get('/service-levels', requirePermission('inbound:work'), async (req, res) => {
    const query = validateQuery(req, serviceLevelsQuery);
    const to = query.to ?? engine.clock.now();
    const from = query.from ?? new Date(to.getTime() - 30 * 86_400_000);
    if (from >= to)
      throw new AppError('invalid_input', `the period must start before it ends (from ${from.toISOString()}, to ${to.toISOString()})`);
    res.json({ from, to, queues: await inbox.serviceLevels(apiViewer(req), { from, to }) });
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

  router.post('/:id/notes', requirePermission('inbound:work'), jsonBody('small'), async (req, res) => {
    const body = validateBody(req, noteBody);
    const id = await contactOf(req);
    await inbox.addNote(id, body.text, await actorOf(req, body.user));
    res.status(201).json(await answer(req, id));
  });

  /** A canned answer rendered for this contact's person, signed by the acting user: text to edit, nothing is sent. */
  router.get('/:id/canned-answers/:name', requirePermission('inbound:work'), async (req, res) => {
    const { user } = validateQuery(req, cannedQuery);
    const id = await contactOf(req);
    // Checks that the key may act as `user`; the answer is signed by whoever it acts as.
    await actorOf(req, user);
    const email = user ?? req.apiKey!.user?.email;
    const person = email ? await engine.access.findActiveUser(email) : undefined;
    res.json(
      await inbox.renderCanned(id, req.params.name as string, { name: person?.name ?? req.apiKey!.name, email: person?.email ?? '' }),
    );
  });

  return router;
}
