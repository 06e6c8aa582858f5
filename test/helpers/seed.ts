import type { Database } from '../../src/db/index.ts';
import { withTransaction } from '../../src/db/tx.ts';
import { appendConsentEvents, type ConsentEventInput } from '../../src/consent/ledger.ts';
import { LEGACY_CONFIRMED } from '../../src/consent/state.ts';
import { saveLeads, type LeadInput } from '../../src/leads/store.ts';

/** A compact test lead: consent steps apply to email marketing, in order, a minute apart. */
export interface SeedLead {
  id: string;
  email: string | null;
  phone?: string;
  first: string;
  locale: string | null;
  timezone?: string;
  orders: number;
  tags?: string[];
  consent: readonly ('grant' | 'confirm' | 'withdraw' | 'legacy')[];
  /** SMS marketing consent steps, like `consent`. */
  sms?: readonly ('grant' | 'withdraw')[];
  preferred?: 'email' | 'sms';
}

/** Creates leads and their consent history, ending before `now`, through the real store and ledger. */
export async function seedLeads(database: Database, seeds: SeedLead[], now: Date = new Date()): Promise<void> {
  const rows = await saveLeads(
    database.pool,
    seeds.map((s) => ({
      externalId: s.id,
      email: s.email,
      phone: s.phone ?? null,
      firstName: s.first,
      lastName: null,
      locale: s.locale,
      timezone: s.timezone ?? null,
      persona: null,
      tags: s.tags ?? ['customer'],
      attributes: { orders: s.orders, ...(s.preferred ? { preferred_channel: s.preferred } : {}) },
    })),
  );
  const ids = new Map(rows.map((r) => [r.externalId, r.id]));
  const start = now.getTime() - 3_600_000;
  const smsEvents: ConsentEventInput[] = seeds.flatMap((s) =>
    (s.sms ?? []).map((action, i) => ({
      leadId: ids.get(s.id)!,
      channel: 'sms' as const,
      purpose: 'marketing',
      action,
      source: 'test',
      actor: 'test',
      occurredAt: new Date(start + i * 60_000),
    })),
  );
  const events: ConsentEventInput[] = seeds.flatMap((s) =>
    s.consent.map((step, i) => ({
      leadId: ids.get(s.id)!,
      channel: 'email' as const,
      purpose: 'marketing',
      action: step === 'legacy' ? ('grant' as const) : step,
      source: step === 'legacy' ? LEGACY_CONFIRMED : 'test',
      actor: 'test',
      occurredAt: new Date(start + i * 60_000 + (step === 'withdraw' ? 3_000_000 : 0)),
    })),
  );
  await withTransaction(database.pool, (client) => appendConsentEvents(client, [...events, ...smsEvents]));
}

/** `count` leads `<prefix>-<i>` with a confirmed email marketing consent: each is due a campaign's message. */
export function confirmedLeads(count: number, prefix: string): SeedLead[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${i}`,
    email: `${prefix}-${i}@example.com`,
    first: `${prefix.toUpperCase()}${i}`,
    locale: null,
    orders: 1,
    consent: ['grant', 'confirm'] as const,
  }));
}

/** A lead to save with only its external id, email and phone; every other field is empty. */
export function contactLead(externalId: string, email: string | null, phone: string | null = null): LeadInput {
  return {
    externalId,
    email,
    phone,
    firstName: null,
    lastName: null,
    locale: null,
    timezone: null,
    persona: null,
    tags: [],
    attributes: {},
  };
}
