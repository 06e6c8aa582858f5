import type pg from 'pg';
import { appendConsentEvents } from '../consent/ledger.ts';
import { UNGATED_PURPOSES } from '../consent/state.ts';
import { statement } from '../db/statement.ts';
import { withTransaction } from '../db/tx.ts';
import { log } from '../log.ts';
import { messageIdFromAddress, type AddressKind } from './addresses.ts';
import type { FeedbackReport } from './feedback-report.ts';
import { countComplaint } from './metrics.ts';

/**
 * Spam complaints. A person who presses "this is spam" makes their mailbox provider send an abuse
 * report (RFC 5965) to the address registered for its feedback loop. When the report quotes a
 * message of ours, proven by one of the signed tokens we put in every email, the person's email
 * consent is withdrawn with source `spam-complaint`, once per message complained of.
 *
 * Which consent: every purpose the person had standing email consent for, and the purpose of the
 * message complained of. A complaint is not an unsubscribe from one list: the provider counts it
 * against the sender's whole stream and files that person's later mail from us as spam (Gmail
 * treats a complaint as "stop all"), so another marketing email on another purpose would be the
 * next complaint. SMS consent stays: the complaint is about email.
 * Messages nobody opts into (service answers, confirmations, receipts) are not consent to withdraw.
 */
export type ComplaintResult =
  /** Recorded, and the consent withdrawn. */
  | 'recorded'
  /** Another copy of a report about a message already complained of: nothing changes. */
  | 'duplicate'
  /** The report names no message of ours (or only a forged one): logged and dropped. */
  | 'not-ours'
  /** Feedback other than abuse (not-spam, virus, auth-failure …): logged and dropped. */
  | 'not-abuse';

export const SPAM_COMPLAINT_SOURCE = 'spam-complaint';

interface ComplainedMessage {
  id: number;
  lead_id: number;
  campaign_id: string;
  purpose: string;
}

/** Sent email messages by id (the candidates a report's tokens name). */
const SENT_EMAIL = statement(
  'inbound.complained-messages',
  `SELECT id, lead_id, campaign_id, purpose FROM messages WHERE id = ANY($1::bigint[]) AND channel = 'email' AND status = 'sent'`,
);
const RECORD = statement(
  'inbound.record-spam-complaint',
  `INSERT INTO spam_complaints (message_id, lead_id, campaign_id, report_id, feedback_type, reporter, identified_by, report_sha256, received_at)
   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
   ON CONFLICT (message_id) DO NOTHING RETURNING id`,
);
const STANDING_EMAIL_PURPOSES = statement(
  'inbound.standing-email-purposes',
  `SELECT purpose FROM consent_state WHERE lead_id = $1 AND channel = 'email' AND status IN ('granted', 'confirmed') ORDER BY purpose`,
);

type IdentifiedBy = 'message-id' | 'return-path' | 'list-unsubscribe' | 'reply-to';

/**
 * Our messages the report's quoted header names, strongest first, each by a token whose signature
 * holds (a forged or altered one names nothing): its Message-ID, its VERP return path, the mailto
 * of its List-Unsubscribe, its Reply-To. The unsigned Message-IDs of before signing name nothing:
 * anyone can write one.
 */
function candidates(secret: string, original: FeedbackReport['original']): { id: number; by: IdentifiedBy }[] {
  const named = (values: string[], kind: AddressKind, by: IdentifiedBy) =>
    values.flatMap((v) => {
      const id = messageIdFromAddress(secret, kind, v.replace(/^<|>$/g, ''));
      return id === undefined ? [] : [{ id, by }];
    });
  return [
    ...named(original.messageIds, 'message', 'message-id'),
    ...named(original.returnPaths, 'bounce', 'return-path'),
    ...named(original.listUnsubscribe, 'unsubscribe', 'list-unsubscribe'),
    ...named(original.replyTo, 'reply', 'reply-to'),
  ];
}

export interface ComplaintDeps {
  pool: pg.Pool;
  /** The key our tokens are signed with. */
  secret: string;
  now: Date;
}

/**
 * Acts on an abuse report once it is parsed (feedback-report.ts); `reportId` is its own
 * Message-ID (or content hash). Nothing of it becomes an inbound contact.
 */
export async function receiveComplaint(deps: ComplaintDeps, report: FeedbackReport, reportId: string): Promise<ComplaintResult> {
  const result = await actOnReport(deps, report, reportId);
  countComplaint(result);
  return result;
}

async function actOnReport(deps: ComplaintDeps, report: FeedbackReport, reportId: string): Promise<ComplaintResult> {
  if (report.feedbackType !== 'abuse') {
    log.info('feedback report that is no abuse report dropped', { report: reportId, type: report.feedbackType, reporter: report.reporter });
    return 'not-abuse';
  }
  const named = candidates(deps.secret, report.original);
  return withTransaction(deps.pool, async (client) => {
    const { rows } = await client.query<ComplainedMessage>(SENT_EMAIL, [named.map((c) => c.id)]);
    const found = named.map((c) => ({ ...c, message: rows.find((r) => r.id === c.id) })).find((c) => c.message);
    if (!found) {
      log.warn('abuse report names no message of ours; dropped', {
        report: reportId,
        reporter: report.reporter,
        quoted_message_id: report.original.messageIds[0] ?? null,
      });
      return 'not-ours';
    }
    const message = found.message!;
    const { rows: recorded } = await client.query<{ id: number }>(RECORD, [
      message.id,
      message.lead_id,
      message.campaign_id,
      reportId,
      report.feedbackType,
      report.reporter,
      found.by,
      report.sha256,
      deps.now,
    ]);
    if (!recorded[0]) return 'duplicate';
    const complaintId = recorded[0].id;
    const withdrawn = await withdrawForComplaint(
      client,
      message,
      {
        complaint_id: complaintId,
        message_id: message.id,
        report_id: reportId,
        report_sha256: report.sha256,
        feedback_type: report.feedbackType,
        reporter: report.reporter,
        identified_by: found.by,
      },
      deps.now,
    );
    log.info('spam complaint recorded; email consent withdrawn', { complaint: complaintId, message: message.id, purposes: withdrawn });
    return 'recorded';
  });
}

/** Withdraws the person's email consent as the module comment says; the purposes withdrawn. */
async function withdrawForComplaint(
  client: pg.PoolClient,
  message: ComplainedMessage,
  evidence: Record<string, unknown>,
  now: Date,
): Promise<string[]> {
  const { rows } = await client.query<{ purpose: string }>(STANDING_EMAIL_PURPOSES, [message.lead_id]);
  const purposes = [...new Set([message.purpose, ...rows.map((r) => r.purpose)])].filter((p) => !UNGATED_PURPOSES.has(p));
  await appendConsentEvents(
    client,
    purposes.map((purpose) => ({
      leadId: message.lead_id,
      channel: 'email' as const,
      purpose,
      action: 'withdraw' as const,
      source: SPAM_COMPLAINT_SOURCE,
      // The person pressed the button; their provider only carried it to us (evidence.reporter).
      actor: 'recipient',
      evidence,
      occurredAt: now,
      asItHappens: true,
    })),
  );
  return purposes;
}
