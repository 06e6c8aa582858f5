import type { Router } from 'express';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import type { TimelineEntry } from '../../leads/timeline.ts';
import type { Ui } from './kit.ts';

/** People per page of search results. */
const PER_PAGE = 25;

/** A person's name with their id, or the id alone. */
const display = (l: { external_id: string; first_name: string | null; last_name: string | null }) =>
  [l.first_name, l.last_name].filter(Boolean).join(' ') || l.external_id;

/** A timeline entry as one row of the page; a reply row says only that and how it was categorised. */
function row(entry: TimelineEntry) {
  const d = entry.detail;
  switch (entry.kind) {
    case 'message':
      return { ...entry, message: d };
    case 'consent':
      return { ...entry, consent: d };
    case 'reply':
      return { at: entry.at, kind: entry.kind, what: entry.what, reply: { category: d.category, kind: d.kind } };
    default:
      return { ...entry, event: { properties: d.properties } };
  }
}

/**
 * The lead page for those who plan campaigns: find a person by external id, email or name, and see
 * one history across channels: events received, messages with the consent event that allowed each,
 * consent changes from the ledger, and whether the person replied (never what they wrote: the
 * timeline is read without reply reach, and reply rows carry only channel, kind and category).
 */
export function leadRoutes(router: Router, engine: Engine, { page, guard }: Ui): void {
  router.get('/leads', guard('write'), async (req, res) => {
    const q = typeof req.query.q === 'string' ? req.query.q.trim().slice(0, 200) : '';
    const number = Math.max(1, Math.min(10_000, Number.parseInt(String(req.query.page ?? '1'), 10) || 1));
    const found = q ? await engine.leads.search(q, { limit: PER_PAGE + 1, offset: (number - 1) * PER_PAGE }) : [];
    const leads = found.slice(0, PER_PAGE).map((l) => ({ ...l, name: display(l) }));
    const link = (n: number) => `/leads?${new URLSearchParams({ q, page: String(n) }).toString()}`;
    page(res, 'leads', 'Leads', req, {
      nav: { leads: true },
      q,
      leads,
      pageNumber: number,
      previous: number > 1 ? link(number - 1) : undefined,
      next: found.length > PER_PAGE ? link(number + 1) : undefined,
    });
  });

  router.get('/leads/:id', guard('write'), async (req, res) => {
    const history = await engine.leads.history(req.params.id as string);
    if (!history) throw new AppError('not_found', `no lead '${req.params.id as string}'`);
    const { lead, replied, timeline } = history;
    page(res, 'lead', `${display(lead)} · lead`, req, {
      nav: { leads: true },
      lead: { ...lead, name: display(lead) },
      replied,
      timeline: timeline.map(row),
    });
  });
}
