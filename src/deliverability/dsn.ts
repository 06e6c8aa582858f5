import type { BounceOutcome } from './schema.ts';

/**
 * Delivery status notifications (RFC 3464): a `multipart/report; report-type=delivery-status`
 * whose `message/delivery-status` part holds header blocks separated by blank lines: one for the
 * reporting MTA, then one per recipient (Final-Recipient, Action, Status, Diagnostic-Code …).
 * The MIME structure is mailparser's (inbound/email.ts); the blocks are read here.
 */

/** One recipient's block, as far as deciding a bounce needs it. */
export interface DsnRecipient {
  finalRecipient: string | null;
  /** failed, delayed, delivered, relayed or expanded (lowercase). */
  action: string;
  /** The enhanced status code (RFC 3463), e.g. 5.1.1. */
  status: string | null;
  diagnostic: string | null;
}

/** A delivery report as the inbound path hands it on: its recipients and the original message's Message-ID, if it quotes one. */
export interface DeliveryReport {
  recipients: DsnRecipient[];
  originalMessageId?: string;
}

/** Blocks past this many are ignored: one message of ours has one recipient; a report with hundreds is not about it. */
const MAX_BLOCKS = 100;
/** What is kept of a field's value; a diagnostic is a line or two. */
const MAX_VALUE = 1000;

/** Header fields of one block (RFC 5322 2.2: a line that starts with white space continues the field before it), lowercase names. */
export function headerFields(block: string): Map<string, string> {
  const fields = new Map<string, string>();
  let last: string | undefined;
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && last) {
      fields.set(last, `${fields.get(last)!} ${line.trim()}`.slice(0, MAX_VALUE));
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim().toLowerCase();
    // The first of a repeated field counts, as for any header.
    if (!fields.has(last))
      fields.set(
        last,
        line
          .slice(colon + 1)
          .trim()
          .slice(0, MAX_VALUE),
      );
  }
  return fields;
}

/** `rfc822; someone@example.org` → `someone@example.org` (the address type is RFC 3464's `address-type;`). */
const typedValue = (value: string | undefined) => (value === undefined ? null : value.replace(/^[^;]*;\s*/, '').trim() || null);

/** The enhanced status code at the start of a Status field or an SMTP reply (`550 5.1.1 …`), e.g. `5.1.1`. */
export function enhancedStatus(text: string | undefined): string | null {
  return /^\s*(?:\d{3}[ -])?([245]\.\d{1,3}\.\d{1,3})\b/.exec(text ?? '')?.[1] ?? null;
}

/** The recipients of a `message/delivery-status` body: every block after the first that names an Action. */
export function parseDeliveryStatus(body: string): DsnRecipient[] {
  const blocks = body.split(/\r?\n[ \t]*\r?\n/).filter((b) => b.trim() !== '');
  return blocks
    .slice(1, MAX_BLOCKS + 1)
    .map(headerFields)
    .filter((f) => f.has('action'))
    .map((f) => ({
      finalRecipient: typedValue(f.get('final-recipient')),
      action: f
        .get('action')!
        .split(/[\s(;]/)[0]!
        .toLowerCase(),
      status: enhancedStatus(f.get('status')),
      diagnostic: f.get('diagnostic-code') ?? null,
    }));
}

/**
 * What a recipient's block says about the address. Hard: the receiver gave up with a permanent
 * status (Action failed, Status 5.x.x). Soft: a temporary one (4.x.x, even when the sender gave up
 * after retrying), or still trying (Action delayed). Delivered: a report that the mail arrived or
 * was handed on past where reports can follow it (delivered, relayed, expanded): the only
 * evidence of delivery we trust, since a relay accepting a message says nothing about the mailbox.
 * Anything else says nothing.
 */
export function bounceOutcome(r: DsnRecipient): BounceOutcome | undefined {
  if (['delivered', 'relayed', 'expanded'].includes(r.action)) return 'delivered';
  if (r.action === 'delayed' || r.status?.startsWith('4.')) return r.action === 'failed' || r.action === 'delayed' ? 'soft' : undefined;
  if (r.action === 'failed' && r.status?.startsWith('5.')) return 'hard';
  return undefined;
}
