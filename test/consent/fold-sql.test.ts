import { expect } from 'chai';
import { appendConsentEvents, type ConsentEventInput } from '../../src/consent/ledger.ts';
import { foldConsent, LEGACY_CONFIRMED, type ConsentAction } from '../../src/consent/state.ts';
import type { Database } from '../../src/db/index.ts';
import { withTransaction } from '../../src/db/tx.ts';
import { saveLeads } from '../../src/leads/store.ts';
import { freshDatabase } from '../helpers/db.ts';
import { contactLead } from '../helpers/seed.ts';

/**
 * The ledger folds and saves the state of many keys in one statement (foldSql); answers as of an
 * instant fold in TypeScript (foldConsent): the two must never differ.
 */
describe('consent fold in SQL', () => {
  let database: Database;
  before(async () => {
    database = await freshDatabase();
  });
  after(() => database.close());

  it('saves, for every key, the state and deciding event foldConsent derives from its events', async () => {
    const leads = await saveLeads(
      database.pool,
      Array.from({ length: 40 }, (_, i) => contactLead(`f-${i}`, `f-${i}@example.com`)),
    );
    let seed = 11;
    const next = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
    const actions: ConsentAction[] = ['grant', 'confirm', 'withdraw'];
    // Histories of up to six events, out of order, some at the same instant, some legacy-confirmed;
    // appended in a few transactions each, so keys are refolded with earlier events.
    for (const lead of leads) {
      const events: ConsentEventInput[] = Array.from({ length: 1 + next(6) }, () => ({
        leadId: lead.id,
        channel: 'email',
        purpose: next(4) === 0 ? 'newsletter' : 'marketing',
        action: actions[next(3)]!,
        source: next(5) === 0 ? LEGACY_CONFIRMED : 'form',
        actor: 'test',
        occurredAt: new Date(Date.UTC(2025, 0, 1 + next(4))),
      }));
      for (let i = 0; i < events.length; i += 2) {
        await withTransaction(database.pool, (client) => appendConsentEvents(client, events.slice(i, i + 2)));
      }
    }
    const { rows: events } = await database.pool.query<{
      lead_id: number;
      purpose: string;
      id: number;
      action: ConsentAction;
      source: string;
    }>(`SELECT lead_id, purpose, id, action, source FROM consent_events ORDER BY occurred_at, id`);
    const byKey = new Map<string, typeof events>();
    for (const e of events) byKey.set(`${e.lead_id}/${e.purpose}`, [...(byKey.get(`${e.lead_id}/${e.purpose}`) ?? []), e]);
    const expected = [...byKey].map(([key, list]) => ({ key, ...foldConsent(list)! })).sort((a, b) => (a.key < b.key ? -1 : 1));
    const { rows: saved } = await database.pool.query<{ key: string; status: string; decidingEventId: number }>(
      `SELECT lead_id || '/' || purpose AS key, status, deciding_event_id AS "decidingEventId" FROM consent_state ORDER BY 1`,
    );
    expect(saved.sort((a, b) => (a.key < b.key ? -1 : 1))).to.deep.equal(expected);
    expect(new Set(saved.map((s) => s.status))).to.have.all.keys('granted', 'confirmed', 'withdrawn');
  });
});
