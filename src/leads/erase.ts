import fs from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import type { Channel } from '../channels/channel.ts';
import { outboxFileName } from '../channels/outbox.ts';
import { statement } from '../db/statement.ts';
import { withRollback, withTransaction } from '../db/tx.ts';
import { eraseBounces } from '../deliverability/bounces.ts';
import { AppError, errorMessage } from '../errors.ts';
import { DETAIL_KEYS_KEPT_ON_ERASURE } from '../inbound/history.ts';

export interface ErasureReport {
  lead: number;
  /** Messages emptied (address, subject, bodies, headers, last error). */
  messages: number;
  /** Of those, queued ones that will now never go out (suppressed as `erased`). */
  unsent: number;
  /** Inbound contacts emptied (address, subject, text, close note). */
  contacts: number;
  /** Of those, open ones closed with the resolution `erased`. */
  closed: number;
  events: number;
  /** `.eml` / `.sms.txt` files of their messages in the outbox folder. */
  outboxFiles: number;
  /** Nothing was changed: this is what erasing would do. */
  dryRun: boolean;
}

export interface ErasureOptions {
  /** The outbox folder, whose files of this person's messages are removed. */
  outboxDir: string;
  dryRun?: boolean;
}

const LOCK_LEAD = statement('leads.lock-for-erasure', `SELECT id FROM leads WHERE external_id = $1 AND erased_at IS NULL FOR UPDATE`);
const EMPTY_LEAD = statement(
  'leads.erase',
  `UPDATE leads SET external_id = 'erased-' || id, email = NULL, phone = NULL, first_name = NULL, last_name = NULL, locale = NULL,
          timezone = NULL, persona = NULL, tags = '{}', attributes = '{}', erased_at = $2, updated_at = $2 WHERE id = $1`,
);
const EMPTY_EVENTS = statement('leads.erase-events', `UPDATE events SET properties = '{}' WHERE lead_id = $1`);
const STOP_QUEUED = statement(
  'leads.erase-stop-queued',
  `UPDATE messages SET status = 'suppressed', reason = 'erased' WHERE lead_id = $1 AND status = 'queued'`,
);
const EMPTY_MESSAGES = statement(
  'leads.erase-messages',
  `UPDATE messages SET to_address = NULL, subject = NULL, body_text = NULL, body_html = NULL, headers = '{}', last_error = NULL
    WHERE lead_id = $1 RETURNING id, channel`,
);
const EMPTY_CONTACT_HISTORY = statement(
  'leads.erase-contact-history',
  `UPDATE inbound_contact_events e
      SET detail = coalesce((SELECT jsonb_object_agg(d.key, d.value) FROM jsonb_each(e.detail) d WHERE d.key = ANY($2::text[])), '{}')
                   || CASE WHEN e.detail ? 'resolution' THEN '{"resolution": "erased"}'::jsonb ELSE '{}' END
    WHERE e.contact_id IN (SELECT id FROM inbound_contacts WHERE lead_id = $1)`,
);
const CLOSE_OPEN_CONTACTS = statement(
  'leads.erase-close-contacts',
  `WITH closed AS (
     UPDATE inbound_contacts SET status = 'closed', resolution = 'erased', closed_at = $2 WHERE lead_id = $1 AND status <> 'closed'
     RETURNING id)
   INSERT INTO inbound_contact_events (contact_id, action, actor, detail, at)
   SELECT id, 'closed', 'system', '{"resolution": "erased"}', $2 FROM closed`,
);
// Automatic replies keep their resolution (the kind: auto-reply, bounce); a person's close note goes.
const EMPTY_CONTACTS = statement(
  'leads.erase-contacts',
  `UPDATE inbound_contacts SET from_address = 'erased', envelope_from = NULL, to_address = NULL, subject = NULL, text = '', body_text = '',
          resolution = CASE WHEN kind = 'human' AND resolution IS NOT NULL THEN 'erased' ELSE resolution END
    WHERE lead_id = $1`,
);
// The person's later messages on their contacts (inbound/thread.ts) are reply text too.
const EMPTY_CONTACT_MESSAGES = statement(
  'leads.erase-contact-messages',
  `UPDATE inbound_contact_messages SET from_address = 'erased', subject = NULL, text = '', body_text = ''
    WHERE contact_id IN (SELECT id FROM inbound_contacts WHERE lead_id = $1)`,
);
/** A satisfaction answer keeps its score (reports count it), never the person's words. */
const EMPTY_CSAT_COMMENTS = statement('leads.erase-csat-comments', `UPDATE csat_answers SET comment = NULL WHERE lead_id = $1`);
const END_ENROLLMENTS = statement(
  'leads.erase-enrollments',
  `UPDATE enrollments SET status = 'exited', exit_reason = 'erased', finished_at = $2 WHERE lead_id = $1 AND status = 'active'`,
);

/**
 * Erases a person's personal data, in one transaction: their lead row, the properties of their
 * events, the addresses and bodies of their messages (queued ones never go out), their inbound
 * contacts with the reply text and close notes (open ones are closed as `erased`, so nobody answers
 * them), the addresses in their bounces (deliverability/bounces.ts), and, once that has committed, their messages' files in the outbox folder. The ledger is
 * append-only and never held their address: it keeps the lead id and a keyed hash of the address
 * (`subject_hash`), so the chain still verifies, the audit finds them by their old address, and a
 * later lead with the same address is recognised (see `saveLeads`). Their row stays, emptied, under
 * a new external id, so the ledger's references and the proof of what was sent remain.
 *
 * A dry run does all of it in a transaction that is rolled back and touches no file, so its counts
 * are exactly what erasing would do.
 */
export async function eraseLead(pool: pg.Pool, externalId: string, options: ErasureOptions, now: Date): Promise<ErasureReport> {
  const dryRun = options.dryRun ?? false;
  const { report, files } = await (dryRun ? withRollback : withTransaction)(pool, async (client) => {
    const { rows } = await client.query<{ id: number }>(LOCK_LEAD, [externalId]);
    if (!rows[0]) throw new AppError('not_found', `no lead '${externalId}' (or it was erased already)`);
    const id = rows[0].id;
    await client.query(EMPTY_LEAD, [id, now]);
    const events = await client.query(EMPTY_EVENTS, [id]);
    const unsent = await client.query(STOP_QUEUED, [id]);
    const messages = await client.query<{ id: number; channel: Channel }>(EMPTY_MESSAGES, [id]);
    await client.query(EMPTY_CONTACT_HISTORY, [id, DETAIL_KEYS_KEPT_ON_ERASURE]);
    const closed = await client.query(CLOSE_OPEN_CONTACTS, [id, now]);
    const contacts = await client.query(EMPTY_CONTACTS, [id]);
    await client.query(EMPTY_CONTACT_MESSAGES, [id]);
    await client.query(EMPTY_CSAT_COMMENTS, [id]);
    await client.query(END_ENROLLMENTS, [id, now]);
    await eraseBounces(client, id);
    const files = await existingFiles(
      options.outboxDir,
      messages.rows.map((m) => outboxFileName(m.id, m.channel)),
    );
    const report: ErasureReport = {
      lead: id,
      messages: messages.rowCount ?? 0,
      unsent: unsent.rowCount ?? 0,
      contacts: contacts.rowCount ?? 0,
      closed: closed.rowCount ?? 0,
      events: events.rowCount ?? 0,
      outboxFiles: files.length,
      dryRun,
    };
    return { report, files };
  });
  if (!dryRun) await removeFiles(files, externalId);
  return report;
}

async function existingFiles(dir: string, names: string[]): Promise<string[]> {
  const found = await Promise.all(
    names.map(async (name) => {
      const file = path.join(dir, name);
      return (await fs.stat(file).catch(() => undefined))?.isFile() ? file : undefined;
    }),
  );
  return found.filter((f): f is string => f !== undefined);
}

/** After the commit: the database part stands even when a file cannot go, and the error names the files left. */
async function removeFiles(files: string[], externalId: string): Promise<void> {
  const failed: string[] = [];
  for (const file of files) await fs.rm(file, { force: true }).catch((err: unknown) => failed.push(`${file}: ${errorMessage(err)}`));
  if (failed.length > 0) {
    throw new AppError(
      'invalid_config',
      `erased ${externalId} in the database, but could not remove ${failed.length} outbox file(s); remove them by hand`,
      {
        details: failed,
      },
    );
  }
}
