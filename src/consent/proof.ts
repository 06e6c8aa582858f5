import type { Channel } from '../channels/channel.ts';
import { csvLine } from '../csv.ts';
import { statement, type Queryable } from '../db/statement.ts';
import { AppError } from '../errors.ts';
import { LEDGER_EVENT_COLUMNS, type LedgerEvent } from './check.ts';
import { proofNotice, type NoticeStore, type ProofNotice } from './notices.ts';
import { recordedLate } from './state.ts';
import { verifyLeadEvents, type ChainReport } from './verify.ts';

export interface ProofMessage {
  id: number;
  campaign: string;
  step: string;
  channel: Channel;
  purpose: string;
  status: string;
  reason: string | null;
  sent_at: Date | null;
  created_at: Date;
  /** The ledger event that allowed it (recorded when it was claimed for sending). */
  consent_event: { id: number; action: string; source: string; occurred_at: Date } | null;
}

/**
 * A ledger event in a proof, marked when it was recorded later than it happened (see `recordedLate`),
 * with the notice text the person was shown, or that its version is not in the notice store.
 */
export interface ProofEvent extends LedgerEvent {
  recorded_later: boolean;
  notice: ProofNotice | null;
}

/** What a compliance officer hands over for one person: their whole consent history and every message. */
export interface Proof {
  lead: { external_id: string; email: string | null; phone: string | null; erased: boolean };
  generated_at: Date;
  /** This person's events, each checked against its seal and its link into the chain. */
  chain: ChainReport;
  consent_events: ProofEvent[];
  messages: ProofMessage[];
}

const LEAD = statement('consent.proof-lead', `SELECT id, external_id, email, phone, erased_at FROM leads WHERE external_id = $1`);
const EVENTS = statement(
  'consent.proof-events',
  `SELECT ${LEDGER_EVENT_COLUMNS} FROM consent_events WHERE lead_id = $1 ORDER BY occurred_at, id`,
);
const MESSAGES = statement(
  'consent.proof-messages',
  `SELECT m.id, m.campaign_id AS campaign, m.step_id AS step, m.channel, m.purpose, m.status, m.reason, m.sent_at, m.created_at,
          e.id AS event_id, e.action AS event_action, e.source AS event_source, e.occurred_at AS event_at
     FROM messages m LEFT JOIN consent_events e ON e.id = m.consent_event_id
    WHERE m.lead_id = $1 ORDER BY m.created_at, m.id`,
);

export async function consentProof(db: Queryable, externalId: string, now: Date, notices: NoticeStore = new Map()): Promise<Proof> {
  const { rows: leads } = await db.query<{
    id: number;
    external_id: string;
    email: string | null;
    phone: string | null;
    erased_at: Date | null;
  }>(LEAD, [externalId]);
  const lead = leads[0];
  if (!lead) throw new AppError('not_found', `no lead '${externalId}'`);
  // One after another: `db` may be one connection (an access request's transaction), which runs one query at a time.
  const { rows: events } = await db.query<LedgerEvent>(EVENTS, [lead.id]);
  const { rows: messages } = await db.query<
    Omit<ProofMessage, 'consent_event'> & { event_id: number | null; event_action: string; event_source: string; event_at: Date }
  >(MESSAGES, [lead.id]);
  const chain = await verifyLeadEvents(db, lead.id);
  return {
    lead: { external_id: lead.external_id, email: lead.email, phone: lead.phone, erased: lead.erased_at !== null },
    generated_at: now,
    chain,
    consent_events: events.map((e) => ({
      ...e,
      recorded_later: recordedLate(e),
      notice: proofNotice(notices, e.purpose, e.notice_version, e.notice_hash),
    })),
    messages: messages.map(({ event_id, event_action, event_source, event_at, ...m }) => ({
      ...m,
      consent_event: event_id ? { id: event_id, action: event_action, source: event_source, occurred_at: event_at } : null,
    })),
  };
}

const PROOF_HEADER = [
  'record',
  'at',
  'id',
  'channel',
  'purpose',
  'what',
  'source_or_campaign',
  'detail',
  'authorising_event',
  'recorded_later',
];

/** The proof as one CSV: consent events and messages interleaved by time; `recorded_later` marks imported history. */
export function proofCsv(proof: Proof): string {
  const rows: { at: Date; line: unknown[] }[] = [
    ...proof.consent_events.map((e) => ({
      at: e.occurred_at,
      line: [
        'consent',
        e.occurred_at,
        e.id,
        e.channel,
        e.purpose,
        e.action,
        e.source,
        {
          actor: e.actor,
          evidence: e.evidence,
          notice_version: e.notice_version,
          notice_hash: e.notice_hash,
          notice_text: e.notice ? ('text' in e.notice ? e.notice.text : 'unknown version: not in the notice store') : undefined,
          recorded_at: e.recorded_at,
          hash: e.hash,
        },
        '',
        e.recorded_later ? 'recorded later' : '',
      ],
    })),
    ...proof.messages.map((m) => ({
      at: m.sent_at ?? m.created_at,
      line: [
        'message',
        m.sent_at ?? m.created_at,
        m.id,
        m.channel,
        m.purpose,
        m.status,
        `${m.campaign}/${m.step}`,
        m.reason ?? '',
        m.consent_event?.id ?? '',
        '',
      ],
    })),
  ].sort((a, b) => a.at.getTime() - b.at.getTime());
  return [csvLine(PROOF_HEADER), ...rows.map((r) => csvLine(r.line))].join('\n') + '\n';
}

export interface ExportedEvent extends LedgerEvent {
  lead: string;
  prev_hash: string;
}

const EXPORT_BATCH = 5_000;

const EXPORT_PAGE = statement(
  'consent.export-page',
  `SELECT ${LEDGER_EVENT_COLUMNS.split(', ')
    .map((c) => `e.${c}`)
    .join(', ')}, e.prev_hash, l.external_id AS lead
     FROM consent_events e JOIN leads l ON l.id = e.lead_id
    WHERE e.occurred_at >= $1 AND e.occurred_at < $2 AND e.id > $3 ORDER BY e.id LIMIT $4`,
);

/** Every ledger event that happened in [from, to), in chain order, in batches (flat memory). */
export async function* exportConsentEvents(db: Queryable, from: Date, to: Date): AsyncGenerator<ExportedEvent[]> {
  let after = 0;
  for (;;) {
    const { rows } = await db.query<ExportedEvent>(EXPORT_PAGE, [from, to, after, EXPORT_BATCH]);
    if (rows.length === 0) return;
    yield rows;
    if (rows.length < EXPORT_BATCH) return;
    after = rows[rows.length - 1]!.id;
  }
}

export const EXPORT_HEADER = [
  'id',
  'lead',
  'channel',
  'purpose',
  'action',
  'source',
  'actor',
  'occurred_at',
  'recorded_at',
  'notice_version',
  'notice_hash',
  'evidence',
  'prev_hash',
  'hash',
];

export function exportCsvLine(e: ExportedEvent): string {
  return csvLine([
    e.id,
    e.lead,
    e.channel,
    e.purpose,
    e.action,
    e.source,
    e.actor,
    e.occurred_at,
    e.recorded_at,
    e.notice_version,
    e.notice_hash,
    e.evidence,
    e.prev_hash,
    e.hash,
  ]);
}
