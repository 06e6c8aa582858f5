import type { Request, Router } from 'express';
import { can } from '../../access/roles.ts';
import type { Session } from '../../access/sessions.ts';
import { CHANNELS } from '../../channels/channel.ts';
import type { Engine } from '../../engine.ts';
import type { Actor, ContactDetail } from '../../inbound/contacts.ts';
import { NOTE_MAX } from '../../inbound/notes.ts';
import type { Viewer } from '../../inbound/reach.ts';
import { field, requiredField, type Ui } from './kit.ts';

/**
 * Where a contact's opt-out stands, from its history: asked for by a sender we could not verify
 * (and whether a confirmation link went out), and whether consent was withdrawn since.
 */
function optOutState(history: ContactDetail['history']) {
  const requested = history.find((h) => h.action === 'opt-out-requested');
  const withdrawn = history.find((h) => h.action === 'consent-withdrawn');
  if (!requested && !withdrawn) return undefined;
  return {
    pending: Boolean(requested) && !withdrawn,
    withdrawn: Boolean(withdrawn),
    confirmation: requested?.detail.confirmation_message ?? null,
    unsent: requested?.detail.no_confirmation ?? null,
  };
}

/** The period of the service levels the inbox shows queue leads. */
const SERVICE_LEVEL_DAYS = 30;

/**
 * The search box's words: trimmed, at most 200 characters (the API's limit; longer is refused
 * there and cut here, as a page has no better answer), or undefined when there are none.
 */
function searchText(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  // Control characters (NUL among them) are no words to search.
  // eslint-disable-next-line no-control-regex -- they are exactly what is replaced
  const text = value.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return text.trim().slice(0, 200) || undefined;
}

/** The service inbox: my contacts, each queue, the closed ones, a search; one contact and its actions. */
export function inboxRoutes(router: Router, engine: Engine, { page, guard }: Ui): void {
  const { inbox } = engine;
  const viewerOf = (session: Session): Viewer => ({ role: session.user.role, email: session.user.email, userId: session.user.id });
  const actor = (req: Request): Actor => ({ label: `user:${req.session!.user.email}`, userId: req.session!.user.id });
  /** The contact of the URL, when this person may see it; others answer 404, as if they did not exist. */
  const contactOf = (req: Request) => inbox.reachable(viewerOf(req.session!), req.params.id as string);

  router.post('/me/availability', guard('inbound:work'), async (req, res) => {
    await engine.access.setAvailable(req.session!.user.id, field(req, 'available') === 'true');
    res.redirect(303, '/inbox');
  });

  // Notification emails (contacts assigned or escalated to me) on or off, from the page header.
  router.post('/me/notifications', guard('inbound:work'), async (req, res) => {
    await engine.access.setNotify(req.session!.user.email, field(req, 'notify') === 'true');
    res.redirect(303, '/inbox');
  });

  router.get('/inbox', guard('inbound'), async (req, res) => {
    const session = req.session!;
    const viewer = viewerOf(session);
    const queues = inbox.queuesOf(viewer);
    const queueIds = queues.map((q) => q.id);
    const selected = typeof req.query.queue === 'string' && queueIds.includes(req.query.queue) ? req.query.queue : undefined;
    const q = searchText(req.query.q);
    const view = q ? 'search' : selected ? 'queue' : req.query.view === 'closed' ? 'closed' : 'mine';
    const filter =
      view === 'search'
        ? { q, limit: 100 }
        : view === 'queue'
          ? { queue: selected, status: 'open' as const }
          : view === 'closed'
            ? { status: 'closed' as const, limit: 100 }
            : { mine: session.user.id, status: 'open' as const };
    const now = engine.clock.now();
    const [contacts, open, team, levels] = await Promise.all([
      inbox.list(viewer, filter),
      inbox.list(viewer, { status: 'open', limit: 1000 }),
      inbox.team(viewer),
      inbox.serviceLevels(viewer, { from: new Date(now.getTime() - SERVICE_LEVEL_DAYS * 86_400_000), to: now }),
    ]);
    page(res, 'inbox', 'Inbox', req, {
      nav: { inbox: true },
      view,
      q,
      heading:
        view === 'search'
          ? `Search: ${q}`
          : view === 'queue'
            ? `Queue: ${queues.find((x) => x.id === selected)!.name ?? selected}`
            : view === 'closed'
              ? 'Closed'
              : 'My contacts',
      contacts,
      team,
      levels: { days: SERVICE_LEVEL_DAYS, queues: levels },
      mineCount: open.filter((c) => c.assignee === session.user.email).length,
      queues: queues.map((q) => ({
        id: q.id,
        label: q.name ?? q.id,
        active: q.id === selected,
        open: open.filter((c) => c.queue === q.id).length,
        overdue: open.filter((c) => c.queue === q.id && c.overdue).length,
      })),
    });
  });

  router.get('/inbox/:id', guard('inbound'), async (req, res) => {
    const id = await contactOf(req);
    const contact = await inbox.get(viewerOf(req.session!), id);
    const work = contact.status !== 'closed' && can(req.session!.user.role, 'inbound:work');
    // A canned answer chosen in the reply form comes back as the text area's text, to edit before sending.
    const chosen = work && typeof req.query.canned === 'string' && req.query.canned ? req.query.canned : undefined;
    const canned = chosen
      ? await inbox.renderCanned(id, chosen, { name: req.session!.user.name, email: req.session!.user.email })
      : undefined;
    // The message as the person got it, minus the working unsubscribe link: a click here would withdraw their consent.
    if (contact.original?.text) contact.original.text = contact.original.text.replace(/\/unsubscribe\/[\w.-]+/g, '/unsubscribe/…');
    page(res, 'contact', contact.subject ?? 'Contact', req, {
      nav: { inbox: true },
      contact,
      open: work,
      canNote: can(req.session!.user.role, 'inbound:work'),
      cannedAnswers: work ? inbox.cannedAnswers().map((a) => ({ name: a.name, selected: a.name === chosen })) : [],
      draft: canned?.text ?? '',
      verified: contact.trust === 'verified',
      answerTo: CHANNELS.filter((c) => contact.answer_to[c]).map((c) => ({
        channel: c,
        to: contact.answer_to[c],
        selected: c === contact.channel,
      })),
      optOut: optOutState(contact.history),
      canAccept: contact.status === 'new' || contact.status === 'assigned',
      users: await engine.access.listUsers(['service', 'admin']),
      queues: inbox.queues().map((q) => ({ id: q.id, label: q.name ?? q.id, selected: q.id === contact.queue })),
    });
  });

  router.post('/inbox/:id/accept', guard('inbound:work'), async (req, res) => {
    const id = await contactOf(req);
    await inbox.accept(id, actor(req));
    res.redirect(303, `/inbox/${id}?done=accepted`);
  });

  router.post('/inbox/:id/reply', guard('inbound:work'), async (req, res) => {
    const id = await contactOf(req);
    const channel = field(req, 'channel');
    await inbox.reply(
      id,
      { text: requiredField(req, 'text', 20_000), channel: channel === 'email' || channel === 'sms' ? channel : undefined },
      actor(req),
    );
    res.redirect(303, `/inbox/${id}?done=replied`);
  });

  router.post('/inbox/:id/assign', guard('inbound:work'), async (req, res) => {
    const id = await contactOf(req);
    await inbox.assign(id, { user: field(req, 'user') || undefined, queue: field(req, 'queue') || undefined }, actor(req));
    res.redirect(303, `/inbox/${id}?done=assigned`);
  });

  router.post('/inbox/:id/opt-out', guard('inbound:work'), async (req, res) => {
    const id = await contactOf(req);
    await inbox.optOut(id, actor(req));
    res.redirect(303, `/inbox/${id}?done=opted-out`);
  });

  router.post('/inbox/:id/notes', guard('inbound:work'), async (req, res) => {
    const id = await contactOf(req);
    await inbox.addNote(id, requiredField(req, 'text', NOTE_MAX), actor(req));
    res.redirect(303, `/inbox/${id}?done=noted#notes`);
  });

  router.post('/inbox/:id/close', guard('inbound:work'), async (req, res) => {
    const id = await contactOf(req);
    // A sales opportunity is flagged by writing what it is about; the product is optional.
    const note = field(req, 'opportunity').slice(0, 2000);
    const product = field(req, 'product').slice(0, 200);
    const sales = note ? { note, ...(product ? { product } : {}) } : undefined;
    await inbox.close(id, { resolution: requiredField(req, 'resolution', 2000), sales }, actor(req));
    res.redirect(303, `/inbox/${id}?done=closed`);
  });
}
