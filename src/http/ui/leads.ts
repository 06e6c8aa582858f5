import type { Router } from 'express';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import type { TimelineEntry } from '../../leads/timeline.ts';
import type { Ui } from './kit.ts';
import { searchPage } from './search.ts';

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
    case 'bounce':
      return { ...entry, bounce: d };
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
    const found = await searchPage(engine, req, '/leads');
    page(res, 'leads', 'Leads', req, { nav: { leads: true }, ...found, leads: found.leads.map((l) => ({ ...l, name: display(l) })) });
  });

  router.get('/leads/:id', guard('write'), async (req, res) => {
    const history = await engine.leads.history(req.params.id as string);
    if (!history) throw new AppError('not_found', `no lead '${req.params.id as string}'`);
    const { lead, replied, timeline } = history;
    // Whether the address on file takes mail, and the bounce that decided it (deliverability/).
    const found = lead.email ? await engine.leads.find(req.params.id as string) : undefined;
    page(res, 'lead', `${display(lead)} · lead`, req, {
      nav: { leads: true },
      lead: { ...lead, name: display(lead) },
      emailState: found?.email ? await engine.deliverability.emailState(found.id, found.email) : undefined,
      replied,
      timeline: timeline.map(row),
    });
  });
}
