import type pg from 'pg';
import type { Channel } from '../channels/channel.ts';
import { withTransaction } from '../db/tx.ts';
import { AppError } from '../errors.ts';
import { leadsByIds } from '../leads/store.ts';
import { confirmationTemplate, requestConfirmation, type ConfirmationDeps } from './double-opt-in.ts';
import { appendConsentEvents } from './ledger.ts';
import { noticeFor, sha256, type NoticeStore } from './notices.ts';
import { queueReceipt, type ReceiptDeps } from './receipt.ts';
import { needsConfirmation, OCCURRED_AT_TOLERANCE } from './state.ts';

/** A consent decision as a person made it (a form, the API, an unsubscribe link). */
export interface ConsentDecision {
  leadId: number;
  channel: Channel;
  purpose: string;
  action: 'grant' | 'withdraw';
  source: string;
  /** What proves the decision: IP, user agent, the form (the API takes only the fields of evidence.ts). */
  evidence?: Record<string, unknown>;
  actor: string;
  /** When the person decided, if the caller knows; absent, the decision is made now, as it is recorded. */
  occurredAt?: Date;
  /** The notice the person was shown: its version label and its exact text (stored as a SHA-256). */
  notice?: { version: string; text: string };
}

export interface RecordedConsent {
  event: number;
  /** The double opt-in email queued for a grant that counts only once confirmed. */
  confirmation?: { messageId: number | null; expiresAt: Date };
}

/**
 * Records a person's consent decision: the one place that applies the rules that come with one.
 * It is recorded as it is made: its instant lies within OCCURRED_AT_TOLERANCE of now, so nobody
 * can date a grant back to make an earlier send look allowed (history comes in through
 * `consent import`, whose events name their file and row). The notice is kept as its version and
 * a hash of the exact wording (the stored text, when the notice store holds that version); a grant
 * that counts only after double opt-in (email marketing) queues the confirmation email in the same
 * transaction, so no grant ever waits for a confirmation nobody sent. A lead with no address to
 * confirm, or a missing confirmation template, refuses the grant before anything is written.
 * With `receipts` (CONSENT_RECEIPTS), the person's receipt of the event is queued in the same transaction.
 */
export async function recordConsent(
  pool: pg.Pool,
  deps: ConfirmationDeps,
  decision: ConsentDecision,
  now: Date,
  notices: NoticeStore = new Map(),
  receipts?: ReceiptDeps,
): Promise<RecordedConsent> {
  const occurredAt = decision.occurredAt ?? now;
  assertRecordedAsMade(occurredAt, now);
  const noticeHash = decision.notice ? sha256(decision.notice.text) : undefined;
  // A version the notice store holds must be its text, word for word (422 naming the version).
  if (decision.notice) noticeFor(notices, decision.purpose, decision.notice.version, noticeHash!);
  const lead =
    decision.action === 'grant' && needsConfirmation(decision.channel, decision.purpose)
      ? (await leadsByIds(pool, [decision.leadId])).get(decision.leadId)
      : undefined;
  if (lead) confirmationTemplate(deps, lead);
  return withTransaction(pool, async (client) => {
    const [event] = await appendConsentEvents(client, [
      {
        leadId: decision.leadId,
        channel: decision.channel,
        purpose: decision.purpose,
        action: decision.action,
        source: decision.source,
        evidence: decision.evidence,
        actor: decision.actor,
        occurredAt,
        asItHappens: decision.occurredAt === undefined,
        noticeVersion: decision.notice?.version,
        noticeHash,
      },
    ]);
    if (receipts) {
      const notice = decision.notice ? { version: decision.notice.version, hash: noticeHash! } : undefined;
      await queueReceipt(client, receipts, { ...decision, id: event!, occurredAt, notice }, now);
    }
    if (!lead) return { event: event! };
    return { event: event!, confirmation: await requestConfirmation(client, deps, lead, { id: event!, purpose: decision.purpose }, now) };
  });
}

/** Refuses an instant outside the tolerance around now, saying how to load history instead. */
function assertRecordedAsMade(occurredAt: Date, now: Date): void {
  const { pastMs, futureMs } = OCCURRED_AT_TOLERANCE;
  const at = occurredAt.toISOString();
  if (occurredAt.getTime() > now.getTime() + futureMs) {
    throw new AppError(
      'invalid_input',
      `occurred_at ${at} lies in the future (more than ${futureMs / 60_000} minute ahead of ${now.toISOString()})`,
    );
  }
  if (occurredAt.getTime() < now.getTime() - pastMs) {
    throw new AppError(
      'invalid_input',
      `occurred_at ${at} lies more than ${pastMs / 60_000} minutes before now (${now.toISOString()}): decisions are recorded as they are made. ` +
        'Load older consent history with `touchpoint consent import <file.csv>`, which keeps each event’s file and row as evidence.',
    );
  }
}
