import type pg from 'pg';
import type { CampaignSet } from '../campaigns/types.ts';
import { SERVICE_REPLY_PURPOSE } from '../consent/check.ts';
import { withTransaction } from '../db/tx.ts';
import { AppError } from '../errors.ts';
import { escapeHtml } from '../http/page.ts';
import { leadTimeline, type TimelineEntry } from '../leads/timeline.ts';
import { recordMessages } from '../messages/record.ts';
import { pickAssignee } from './assign.ts';
import { recordContactEvent } from './history.ts';
import type { ContactStatus } from './schema.ts';

/** Who acts on a contact: a logged-in user, or an API key naming the user it acts for. */
export interface Actor {
  label: string;
  userId?: number;
}

/** A contact as lists and the API show it. */
export interface ContactSummary {
  id: number;
  lead: string | null;
  campaign: string | null;
  step: string | null;
  channel: 'email' | 'sms';
  kind: string;
  category: string;
  priority: string;
  queue: string | null;
  status: ContactStatus;
  assignee: string | null;
  due_at: Date | null;
  overdue: boolean;
  escalated_at: Date | null;
  received_at: Date;
  from: string;
  subject: string | null;
  text: string;
  identified_by: string | null;
}

export interface ContactDetail extends ContactSummary {
  body_text: string;
  lead_id: number | null;
  lead_name: string | null;
  assignee_id: number | null;
  escalated_to: number | null;
  resolution: string | null;
  /** The campaign message this answers, as the person got it. */
  original: { id: number; subject: string | null; text: string | null; sent_at: Date | null; template: string | null } | null;
  history: { action: string; actor: string; detail: Record<string, unknown>; at: Date }[];
  /** The person's one history across channels. */
  timeline: TimelineEntry[];
}

export interface ContactFilter {
  status?: ContactStatus | 'open';
  queue?: string;
  lead?: string;
  assignee?: number;
  /** Contacts assigned or escalated to this user. */
  mine?: number;
  /** Only what a service person may see: their queues, and what is assigned or escalated to them. */
  reach?: { queues: string[]; userId?: number };
  /** Automatic replies too (hidden by default). */
  automatic?: boolean;
  limit?: number;
}

const SUMMARY = `c.id, l.external_id AS lead, c.campaign_id AS campaign, c.step_id AS step, c.channel, c.kind, c.category, c.priority,
  c.queue, c.status, u.email AS assignee, c.due_at, (c.status IN ('new', 'assigned') AND c.due_at <= $1) AS overdue,
  c.escalated_at, c.received_at, c.from_address AS "from", c.subject, c.text, c.identified_by`;
const FROM = `inbound_contacts c LEFT JOIN leads l ON l.id = c.lead_id LEFT JOIN users u ON u.id = c.assignee_id`;

/** Open work first: overdue, then by due time and priority; closed ones newest first. */
export async function listContacts(pool: pg.Pool, filter: ContactFilter, now: Date): Promise<ContactSummary[]> {
  const where: string[] = [];
  const params: unknown[] = [now];
  const add = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (filter.status === 'open') where.push(`c.status <> 'closed'`);
  else if (filter.status) add((p) => `c.status = ${p}`, filter.status);
  if (filter.queue) add((p) => `c.queue = ${p}`, filter.queue);
  if (filter.reach) {
    params.push(filter.reach.queues, filter.reach.userId ?? null);
    const [q, u] = [`$${params.length - 1}`, `$${params.length}`];
    where.push(`(c.queue = ANY(${q}::text[]) OR c.assignee_id = ${u}::bigint OR c.escalated_to = ${u}::bigint)`);
  }
  if (filter.lead) add((p) => `l.external_id = ${p}`, filter.lead);
  if (filter.assignee) add((p) => `c.assignee_id = ${p}`, filter.assignee);
  if (filter.mine) add((p) => `(c.assignee_id = ${p} OR c.escalated_to = ${p})`, filter.mine);
  if (!filter.automatic) where.push(`c.kind = 'human'`);
  params.push(filter.limit ?? 200);
  const { rows } = await pool.query<ContactSummary>(
    `SELECT ${SUMMARY} FROM ${FROM} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY (c.status = 'closed'), (c.status IN ('new', 'assigned') AND c.due_at <= $1) DESC,
               array_position(ARRAY['urgent', 'high', 'normal', 'low'], c.priority), c.due_at, c.received_at DESC
      LIMIT $${params.length}`,
    params,
  );
  return rows.map((r) => ({ ...r, id: Number(r.id) }));
}

export async function getContact(pool: pg.Pool, id: number, now: Date): Promise<ContactDetail> {
  const { rows } = await pool.query<ContactDetail & { message_id: number | null }>(
    `SELECT ${SUMMARY}, c.body_text, c.lead_id, c.assignee_id, c.escalated_to, c.resolution, c.message_id,
            nullif(trim(concat_ws(' ', l.first_name, l.last_name)), '') AS lead_name
       FROM ${FROM} WHERE c.id = $2`,
    [now, id],
  );
  const row = rows[0];
  if (!row) throw new AppError('not_found', `no inbound contact ${id}`);
  const original = row.message_id
    ? (
        await pool.query(`SELECT id, subject, body_text AS text, sent_at, template FROM messages WHERE id = $1`, [row.message_id])
      ).rows[0] ?? null
    : null;
  const { rows: history } = await pool.query(
    `SELECT action, actor, detail, at FROM inbound_contact_events WHERE contact_id = $1 ORDER BY at, id`,
    [id],
  );
  const timeline = row.lead_id ? await leadTimeline(pool, Number(row.lead_id), { limit: 100, replyText: true }) : [];
  const { message_id: _, ...contact } = row;
  return {
    ...contact,
    id: Number(row.id),
    lead_id: row.lead_id && Number(row.lead_id),
    assignee_id: row.assignee_id && Number(row.assignee_id),
    escalated_to: row.escalated_to && Number(row.escalated_to),
    original,
    history,
    timeline,
  };
}

/** What deciding who may see a contact needs (see reach.ts), without loading the contact; undefined when there is none. */
export async function contactPlacement(
  pool: pg.Pool,
  id: number,
): Promise<{ queue: string | null; assignee_id: number | null; escalated_to: number | null } | undefined> {
  const { rows } = await pool.query<{ queue: string | null; assignee_id: string | null; escalated_to: string | null }>(
    `SELECT queue, assignee_id, escalated_to FROM inbound_contacts WHERE id = $1`,
    [id],
  );
  const row = rows[0];
  const toId = (value: string | null) => (value === null ? null : Number(value));
  return row && { queue: row.queue, assignee_id: toId(row.assignee_id), escalated_to: toId(row.escalated_to) };
}

/** Locks the contact for a change and checks it may make that change. */
async function lockContact(client: pg.PoolClient, id: number, allowed: readonly ContactStatus[], action: string) {
  const { rows } = await client.query<{ id: number; status: ContactStatus; assignee_id: number | null; queue: string | null; language: string | null }>(
    `SELECT id, status, assignee_id, queue, language FROM inbound_contacts WHERE id = $1 AND kind = 'human' FOR UPDATE`,
    [id],
  );
  const contact = rows[0];
  if (!contact) throw new AppError('not_found', `no inbound contact ${id}`);
  if (!allowed.includes(contact.status)) throw new AppError('conflict', `contact ${id} is ${contact.status}; it cannot be ${action}`);
  return contact;
}

/** The assignee takes the contact on: it is theirs now, and the clock for a first response stops. */
export async function acceptContact(pool: pg.Pool, id: number, actor: Actor, now: Date): Promise<void> {
  await withTransaction(pool, async (client) => {
    const contact = await lockContact(client, id, ['new', 'assigned'], 'accepted');
    const userId = actor.userId ?? contact.assignee_id;
    if (!userId) throw new AppError('unprocessable', `contact ${id} has no assignee; name the user who accepts it`);
    await client.query(`UPDATE inbound_contacts SET status = 'accepted', assignee_id = $2, accepted_at = $3 WHERE id = $1`, [id, userId, now]);
    await recordContactEvent(client, id, 'accepted', actor.label, {}, now);
  });
}

/** Hands the contact to a person, or to another queue (whose least-loaded member gets it). */
export async function assignContact(
  pool: pg.Pool,
  set: CampaignSet,
  id: number,
  to: { user?: string; queue?: string },
  actor: Actor,
  now: Date,
): Promise<void> {
  await withTransaction(pool, async (client) => {
    const contact = await lockContact(client, id, ['new', 'assigned', 'accepted'], 'reassigned');
    let queueId = contact.queue;
    let assignee: { id: number; email: string } | undefined;
    if (to.queue) {
      const queue = set.inbound.queues.find((q) => q.id === to.queue);
      if (!queue) throw new AppError('unprocessable', `unknown queue '${to.queue}'; known: ${set.inbound.queues.map((q) => q.id).join(', ')}`);
      queueId = queue.id;
      if (!to.user) assignee = await pickAssignee(client, queue, contact.language);
    }
    if (to.user) {
      const { rows } = await client.query<{ id: number; email: string }>(
        `SELECT id, email FROM users WHERE email = $1 AND disabled_at IS NULL AND role IN ('service', 'admin')`,
        [to.user.toLowerCase()],
      );
      if (!rows[0]) throw new AppError('unprocessable', `no active service user '${to.user}'`);
      assignee = { id: Number(rows[0].id), email: rows[0].email };
    }
    await client.query(`UPDATE inbound_contacts SET queue = $2, assignee_id = $3, status = $4, accepted_at = NULL WHERE id = $1`, [
      id,
      queueId,
      assignee?.id ?? null,
      assignee ? 'assigned' : 'new',
    ]);
    await recordContactEvent(client, id, 'assigned', actor.label, { to: assignee?.email ?? null, queue: queueId }, now);
  });
}

export async function closeContact(pool: pg.Pool, id: number, resolution: string, actor: Actor, now: Date): Promise<void> {
  await withTransaction(pool, async (client) => {
    await lockContact(client, id, ['new', 'assigned', 'accepted'], 'closed');
    await client.query(`UPDATE inbound_contacts SET status = 'closed', resolution = $2, closed_at = $3 WHERE id = $1`, [id, resolution, now]);
    await recordContactEvent(client, id, 'closed', actor.label, { resolution }, now);
  });
}

/**
 * Answers through the outbox and the normal channel adapters (retries, crash safety), on the
 * channel the contact came in on unless another is asked for (then to the lead's address on it).
 * Answering takes the contact on. Someone we could not identify becomes a lead, so the answer and
 * what follows land in one history.
 */
export async function replyToContact(
  pool: pg.Pool,
  id: number,
  reply: { text: string; subject?: string; channel?: 'email' | 'sms' },
  actor: Actor,
  now: Date,
): Promise<{ messageId: number }> {
  return withTransaction(pool, async (client) => {
    await lockContact(client, id, ['new', 'assigned', 'accepted'], 'answered');
    const { rows } = await client.query<{ lead_id: number | null; channel: 'email' | 'sms'; from_address: string; subject: string | null; external_id: string; campaign_id: string | null; assignee_id: number | null }>(
      `SELECT lead_id, channel, from_address, subject, external_id, campaign_id, assignee_id FROM inbound_contacts WHERE id = $1`,
      [id],
    );
    const contact = rows[0]!;
    const leadId = contact.lead_id ? Number(contact.lead_id) : await leadForSender(client, id, contact.channel, contact.from_address);
    const channel = reply.channel ?? contact.channel;
    let to = contact.from_address;
    if (channel !== contact.channel) {
      const { rows: lead } = await client.query<{ email: string | null; phone: string | null }>(`SELECT email, phone FROM leads WHERE id = $1`, [leadId]);
      const address = channel === 'email' ? lead[0]?.email : lead[0]?.phone;
      if (!address) throw new AppError('unprocessable', `this person has no ${channel === 'email' ? 'email address' : 'phone number'}; answer by ${contact.channel}`);
      to = address;
    }
    const { rows: counted } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM inbound_contact_events WHERE contact_id = $1 AND action = 'replied'`, [id]);
    const subject = reply.subject ?? (contact.subject ? (/^re:/i.test(contact.subject) ? contact.subject : `Re: ${contact.subject}`) : 'Re: your message');
    const threaded: Record<string, string> = channel === 'email' && contact.channel === 'email' && /^<[^>]+>$/.test(contact.external_id) ? { 'In-Reply-To': contact.external_id, References: contact.external_id } : {};
    const [recorded] = await recordMessages(client, [
      {
        idempotencyKey: `reply:${id}:${counted[0]!.n + 1}`,
        campaignId: contact.campaign_id ?? 'inbox',
        stepId: 'reply',
        occurrence: `contact-${id}`,
        leadId,
        channel,
        purpose: SERVICE_REPLY_PURPOSE,
        persona: 'service',
        status: 'queued',
        toAddress: to,
        subject: channel === 'email' ? subject : '',
        bodyText: reply.text,
        bodyHtml: channel === 'email' ? `<p>${escapeHtml(reply.text).replace(/\r?\n/g, '<br>')}</p>` : '',
        headers: threaded,
        dueAt: now,
      },
    ]);
    const messageId = Number(recorded!.id);
    await client.query(
      `UPDATE inbound_contacts SET status = 'accepted', assignee_id = coalesce(assignee_id, $2), accepted_at = coalesce(accepted_at, $3), lead_id = $4 WHERE id = $1`,
      [id, actor.userId ?? null, now, leadId],
    );
    await recordContactEvent(client, id, 'replied', actor.label, { message_id: messageId, channel, text: reply.text.slice(0, 2000) }, now);
    return { messageId };
  });
}

async function leadForSender(client: pg.PoolClient, contactId: number, channel: 'email' | 'sms', address: string): Promise<number> {
  const { rows } = await client.query<{ id: number }>(
    `INSERT INTO leads (external_id, email, phone, tags) VALUES ($1, $2, $3, ARRAY['inbound'])
     ON CONFLICT (external_id) DO UPDATE SET updated_at = now() RETURNING id`,
    [`inbound:${address}`, channel === 'email' ? address : null, channel === 'sms' ? address : null],
  );
  const leadId = Number(rows[0]!.id);
  await client.query(`UPDATE inbound_contacts SET lead_id = $2 WHERE id = $1`, [contactId, leadId]);
  return leadId;
}

/**
 * Escalates, once each, the contacts nobody accepted before their due time, to their queue's lead,
 * and records it in the contact's history. Returns the ids escalated.
 */
export async function escalateOverdue(pool: pg.Pool, set: CampaignSet, now: Date): Promise<number[]> {
  return withTransaction(pool, async (client) => {
    const leads = set.inbound.queues.map((q) => [q.id, q.lead ?? null] as const);
    const { rows } = await client.query<{ id: number; queue: string; escalated_to: number | null; lead_email: string | null }>(
      `WITH queue_leads AS (SELECT * FROM unnest($2::text[], $3::text[]) AS q(queue, lead_email))
       UPDATE inbound_contacts c
          SET escalated_at = $1,
              escalated_to = (SELECT u.id FROM users u JOIN queue_leads q ON q.lead_email = u.email WHERE q.queue = c.queue AND u.disabled_at IS NULL)
        WHERE c.id IN (
          SELECT id FROM inbound_contacts
           WHERE status IN ('new', 'assigned') AND escalated_at IS NULL AND due_at <= $1 AND kind = 'human'
           FOR UPDATE SKIP LOCKED)
       RETURNING c.id, c.queue, c.escalated_to, (SELECT lead_email FROM queue_leads q WHERE q.queue = c.queue) AS lead_email`,
      [now, leads.map(([q]) => q), leads.map(([, l]) => l)],
    );
    for (const row of rows) {
      await recordContactEvent(client, Number(row.id), 'escalated', 'system', { to: row.escalated_to ? row.lead_email : null, queue: row.queue }, now);
    }
    return rows.map((r) => Number(r.id));
  });
}
