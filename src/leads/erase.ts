import type pg from 'pg';
import { appendConsentEvents } from '../consent/ledger.ts';
import { withTransaction } from '../db/tx.ts';
import { AppError } from '../errors.ts';

export interface ErasureReport {
  lead: number;
  messages: number;
  contacts: number;
  events: number;
}

/**
 * Erases a person's personal data from leads, their events, messages and inbound contacts, in one
 * transaction. The ledger is append-only and never held their address: it keeps the lead id and a
 * keyed hash of the address (`subject_hash`), so the chain still verifies and a later import of
 * the same address is recognised (see `carryOverWithdrawals`). Their row stays, emptied, under a
 * new external id, so the ledger's references and the proof of what was sent remain.
 */
export async function eraseLead(pool: pg.Pool, externalId: string, now: Date): Promise<ErasureReport> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ id: string }>(`SELECT id FROM leads WHERE external_id = $1 AND erased_at IS NULL FOR UPDATE`, [externalId]);
    if (!rows[0]) throw new AppError('not_found', `no lead '${externalId}' (or it was erased already)`);
    const id = Number(rows[0].id);
    await client.query(
      `UPDATE leads SET external_id = 'erased-' || id, email = NULL, phone = NULL, first_name = NULL, last_name = NULL, locale = NULL,
              timezone = NULL, persona = NULL, tags = '{}', attributes = '{}', erased_at = $2, updated_at = $2 WHERE id = $1`,
      [id, now],
    );
    const events = await client.query(`UPDATE events SET properties = '{}' WHERE lead_id = $1`, [id]);
    const messages = await client.query(
      `UPDATE messages SET to_address = NULL, subject = NULL, body_text = NULL, body_html = NULL, headers = '{}' WHERE lead_id = $1`,
      [id],
    );
    const contacts = await client.query(
      `UPDATE inbound_contacts SET from_address = 'erased', to_address = NULL, subject = NULL, text = '', body_text = '' WHERE lead_id = $1`,
      [id],
    );
    await client.query(
      `UPDATE inbound_contact_events SET detail = detail - 'text' WHERE contact_id IN (SELECT id FROM inbound_contacts WHERE lead_id = $1)`,
      [id],
    );
    await client.query(`UPDATE enrollments SET status = 'exited', exit_reason = 'erased', finished_at = $2 WHERE lead_id = $1 AND status = 'active'`, [id, now]);
    return { lead: id, messages: messages.rowCount ?? 0, contacts: contacts.rowCount ?? 0, events: events.rowCount ?? 0 };
  });
}

/**
 * For newly created leads: when an erased person with the same address had withdrawn consent, the
 * withdrawal carries over to the new lead, dated as it happened, so an imported old grant cannot
 * revive it (a newer, real grant still counts). Every path that creates leads calls it, in the
 * transaction that created them. Returns the carried withdrawals.
 */
export async function carryOverWithdrawals(client: pg.PoolClient, leadIds: number[]): Promise<{ leadId: number; fromEvent: number }[]> {
  if (leadIds.length === 0) return [];
  const { rows } = await client.query<{ lead_id: string; channel: 'email' | 'sms'; purpose: string; event_id: string; occurred_at: Date; subject_hash: string; action: string }>(
    `WITH subjects AS (
       SELECT l.id AS lead_id, c.channel, consent_subject_hash(CASE c.channel WHEN 'email' THEN l.email ELSE l.phone END) AS subject_hash
         FROM leads l CROSS JOIN (VALUES ('email'), ('sms')) AS c(channel)
        WHERE l.id = ANY($1::bigint[]))
     SELECT DISTINCT ON (s.lead_id, e.channel, e.purpose) s.lead_id, e.channel, e.purpose, e.id AS event_id, e.occurred_at, e.subject_hash, e.action
       FROM subjects s
       JOIN consent_events e ON e.subject_hash = s.subject_hash AND e.channel = s.channel
       JOIN leads old ON old.id = e.lead_id AND old.erased_at IS NOT NULL
      ORDER BY s.lead_id, e.channel, e.purpose, e.occurred_at DESC, e.id DESC`,
    [leadIds],
  );
  const withdrawn = rows.filter((r) => r.action === 'withdraw');
  await appendConsentEvents(
    client,
    withdrawn.map((r) => ({
      leadId: Number(r.lead_id),
      channel: r.channel,
      purpose: r.purpose,
      action: 'withdraw' as const,
      source: 'carried-from-erased',
      evidence: { from_event: Number(r.event_id) },
      actor: 'system',
      occurredAt: r.occurred_at,
      subjectHash: r.subject_hash,
    })),
  );
  return withdrawn.map((r) => ({ leadId: Number(r.lead_id), fromEvent: Number(r.event_id) }));
}
