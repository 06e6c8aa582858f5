import { sql } from 'drizzle-orm';
import type { Db } from '../db/index.ts';
import { messages } from './schema.ts';

export type NewMessage = typeof messages.$inferInsert;

/** `(campaign, step, lead, occurrence)`: the same person never gets the same step twice per occurrence. */
export function idempotencyKey(campaignId: string, stepId: string, leadId: number, occurrence: string): string {
  return `${campaignId}:${stepId}:${leadId}:${occurrence}`;
}

/**
 * Records a batch in one statement. A key seen before is left alone, except a suppressed row,
 * which a later run may turn into a message (the person consented since): nothing consented is
 * lost, nothing is sent twice. Returns the rows this call created or revived.
 */
export async function recordMessages(db: Db, rows: NewMessage[]): Promise<{ id: number; status: string }[]> {
  if (rows.length === 0) return [];
  const excluded = (column: string) => sql.raw(`excluded.${column}`);
  return db
    .insert(messages)
    .values(rows)
    .onConflictDoUpdate({
      target: messages.idempotencyKey,
      set: {
        runId: excluded('run_id'),
        channel: excluded('channel'),
        persona: excluded('persona'),
        template: excluded('template'),
        status: excluded('status'),
        reason: excluded('reason'),
        consentEventId: excluded('consent_event_id'),
        toAddress: excluded('to_address'),
        subject: excluded('subject'),
        bodyText: excluded('body_text'),
        bodyHtml: excluded('body_html'),
        headers: excluded('headers'),
        lastError: excluded('last_error'),
        dueAt: sql`now()`,
      },
      setWhere: sql`${messages.status} = 'suppressed'`,
    })
    .returning({ id: messages.id, status: messages.status });
}

/** Wakes dispatchers in every process; delivered when the surrounding transaction commits. */
export async function notifyDispatchers(db: Db): Promise<void> {
  await db.execute(sql`SELECT pg_notify('touchpoint_dispatch', '')`);
}
