import type pg from 'pg';

/** Appends to a contact's own history: who did what to it, and when. */
export async function recordContactEvent(
  client: pg.PoolClient | pg.Pool,
  contactId: number,
  action: string,
  actor: string,
  detail: Record<string, unknown>,
  at: Date,
): Promise<void> {
  await client.query(`INSERT INTO inbound_contact_events (contact_id, action, actor, detail, at) VALUES ($1, $2, $3, $4, $5)`, [
    contactId,
    action,
    actor,
    JSON.stringify(detail),
    at,
  ]);
}
