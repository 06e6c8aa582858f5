import { Router, type Request } from 'express';
import Joi from 'joi';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import { acceptContact, assignContact, closeContact, contactPlacement, getContact, listContacts, replyToContact, type Actor } from '../../inbound/contacts.ts';
import { contactInReach, queuesInReach, type Viewer } from '../../inbound/reach.ts';
import { CONTACT_STATUSES } from '../../inbound/schema.ts';
import { requirePermission } from '../auth.ts';
import { validateBody, validateQuery } from '../validate.ts';

const user = Joi.string().email({ tlds: false });

/** Inbound contacts for service tools: list, read, and the actions of the inbox. */
export function inboundRouter(engine: Engine): Router {
  const router = Router();
  const { pool } = engine.database;

  /**
   * An API key acts for its own person, or for the user a request names (accept, reply), so the
   * history says who did it.
   */
  async function actorOf(req: Request, userEmail?: string): Promise<Actor> {
    const key = `key:${req.apiKey!.name}`;
    const own = req.apiKey!.user;
    if (!userEmail && own) return { label: `${key} for ${own.email}`, userId: own.id };
    if (!userEmail) return { label: key };
    const { rows } = await pool.query<{ id: number }>(`SELECT id FROM users WHERE email = $1 AND disabled_at IS NULL`, [userEmail.toLowerCase()]);
    if (!rows[0]) throw new AppError('unprocessable', `no user '${userEmail}'`);
    return { label: `${key} for ${userEmail.toLowerCase()}`, userId: Number(rows[0].id) };
  }

  const viewerOf = (req: Request): Viewer => ({ role: req.apiKey!.role, email: req.apiKey!.user?.email, userId: req.apiKey!.user?.id });

  /** A contact id within the key's reach; anything else answers 404, as if it did not exist. */
  const contactId = async (req: Request) => {
    const id = Number(req.params.id);
    const missing = new AppError('not_found', `no inbound contact '${req.params.id}'`);
    if (!Number.isSafeInteger(id) || id <= 0) throw missing;
    const placement = await contactPlacement(pool, id);
    if (!placement || !contactInReach(engine.loadCampaigns().inbound, viewerOf(req), placement)) throw missing;
    return id;
  };

  const listQuery = Joi.object({
    status: Joi.string().valid(...CONTACT_STATUSES, 'open'),
    queue: Joi.string(),
    lead: Joi.string(),
    automatic: Joi.boolean().default(false),
    limit: Joi.number().integer().min(1).max(1000).default(200),
  });

  router.get('/', requirePermission('inbound'), async (req, res) => {
    const q = validateQuery(req, listQuery);
    const viewer = viewerOf(req);
    const reach = viewer.role === 'service' ? { queues: queuesInReach(engine.loadCampaigns().inbound, viewer).map((x) => x.id), userId: viewer.userId } : undefined;
    const contacts = await listContacts(pool, { ...q, reach }, engine.clock.now());
    res.json({ contacts });
  });

  router.get('/:id', requirePermission('inbound'), async (req, res) => {
    res.json(await getContact(pool, await contactId(req), engine.clock.now()));
  });

  router.post('/:id/accept', requirePermission('inbound:work'), async (req, res) => {
    const body = validateBody(req, Joi.object({ user }));
    const id = await contactId(req);
    await acceptContact(pool, id, await actorOf(req, body.user), engine.clock.now());
    res.json(await getContact(pool, id, engine.clock.now()));
  });

  router.post('/:id/reply', requirePermission('inbound:work'), async (req, res) => {
    const body = validateBody(req, Joi.object({ text: Joi.string().trim().min(1).max(20_000).required(), subject: Joi.string().max(300), channel: Joi.string().valid('email', 'sms'), user }));
    const { messageId } = await replyToContact(pool, await contactId(req), body, await actorOf(req, body.user), engine.clock.now());
    res.status(202).json({ message: messageId, status: 'queued' });
  });

  router.post('/:id/assign', requirePermission('inbound:work'), async (req, res) => {
    const body = validateBody(req, Joi.object({ user, queue: Joi.string() }).or('user', 'queue'));
    const id = await contactId(req);
    await assignContact(pool, engine.loadCampaigns(), id, body, await actorOf(req), engine.clock.now());
    res.json(await getContact(pool, id, engine.clock.now()));
  });

  router.post('/:id/close', requirePermission('inbound:work'), async (req, res) => {
    const body = validateBody(req, Joi.object({ resolution: Joi.string().trim().min(1).max(2000).required(), user }));
    const id = await contactId(req);
    await closeContact(pool, id, body.resolution, await actorOf(req, body.user), engine.clock.now());
    res.json(await getContact(pool, id, engine.clock.now()));
  });

  return router;
}
