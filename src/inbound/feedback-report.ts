import crypto from 'node:crypto';
import type { ParsedMail } from 'mailparser';
import { parseMime, unparsable } from './mime-parse.ts';

/**
 * Abuse reports from mailbox providers' feedback loops (RFC 5965, ARF): a `multipart/report;
 * report-type=feedback-report` whose `message/feedback-report` part says what kind of feedback it
 * is, followed by the message complained of (`message/rfc822`) or its header (`text/rfc822-headers`).
 * This module only reads one; complaints.ts decides whether it names a message of ours.
 */
export interface FeedbackReport {
  /** Feedback-Type, lowercase: `abuse` (the person pressed "this is spam"), or fraud, virus, not-spam, auth-failure, other. */
  feedbackType: string;
  /** The report's User-Agent: the feedback loop that generated it. */
  reporter: string | null;
  /** What the report quotes of the message complained of, where our signed tokens may be. */
  original: {
    /** Its Message-ID(s). */
    messageIds: string[];
    /** Its envelope sender: the Return-Path of the copy quoted, and the report's Original-Mail-From. */
    returnPaths: string[];
    /** The addresses in its List-Unsubscribe and Reply-To. */
    listUnsubscribe: string[];
    replyTo: string[];
  };
  /** SHA-256 of the report as it arrived: ties the ledger's evidence to that report. */
  sha256: string;
}

// eslint-disable-next-line no-control-regex -- control characters are exactly what is replaced
const CONTROL = /[\u0000-\u001f\u007f]+/g;
/** Free text from a report, as evidence may hold it: no control characters (NUL fits no PostgreSQL text), bounded. */
const clean = (value: string) => value.replace(CONTROL, ' ').trim().slice(0, 200);

/** The values of one header field, unfolded, from a part's raw header lines (every occurrence). */
function fieldValues(mail: ParsedMail, name: string): string[] {
  return mail.headerLines
    .filter((h) => h.key === name)
    .map((h) =>
      h.line
        .slice(h.line.indexOf(':') + 1)
        .replace(/\r?\n[ \t]+/g, ' ')
        .trim(),
    );
}

/** Every address-like word in these values (`mailto:` and angle brackets around them are not part of it). */
const addressesIn = (values: string[]) => values.flatMap((v) => v.match(/[^\s<>"',;:()]+@[^\s<>"',;:()?]+/g) ?? []);

/** Reads a header block alone (a feedback-report part, text/rfc822-headers) with the same parser and limits. */
const headerBlock = (content: Buffer) => parseMime(Buffer.concat([content, Buffer.from('\r\n\r\n')]));

/** Whether a parsed message is an ARF report (its top-level type says so). */
export function isFeedbackReport(mail: ParsedMail): boolean {
  const type = mail.headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  return type?.value === 'multipart/report' && type.params?.['report-type']?.toLowerCase() === 'feedback-report';
}

/**
 * The report in `raw` when it is one, else undefined. It is parsed a second time keeping the
 * quoted message whole (an inline message/rfc822 part would otherwise be merged into the text and
 * its header lost). A feedback report without its message/feedback-report part is malformed and
 * refused like any message that cannot be parsed.
 */
export async function feedbackReportOf(mail: ParsedMail, raw: Buffer): Promise<FeedbackReport | undefined> {
  if (!isFeedbackReport(mail)) return undefined;
  const parts = (await parseMime(raw, { keepEmbedded: true })).attachments;
  const feedback = parts.find((p) => p.contentType === 'message/feedback-report');
  if (!feedback) throw unparsable('a feedback report (RFC 5965) without its message/feedback-report part');
  const fields = await headerBlock(feedback.content);
  const quoted = parts.find((p) => p.contentType === 'message/rfc822' || p.contentType === 'text/rfc822-headers');
  const original = quoted
    ? quoted.contentType === 'message/rfc822'
      ? await parseMime(quoted.content)
      : await headerBlock(quoted.content)
    : undefined;
  const of = (name: string) => (original ? fieldValues(original, name) : []);
  return {
    feedbackType: clean(fieldValues(fields, 'feedback-type')[0] ?? '').toLowerCase(),
    reporter: fieldValues(fields, 'user-agent').map(clean)[0] ?? null,
    original: {
      messageIds: of('message-id'),
      returnPaths: addressesIn([...of('return-path'), ...fieldValues(fields, 'original-mail-from')]),
      listUnsubscribe: addressesIn(of('list-unsubscribe')),
      replyTo: addressesIn(of('reply-to')),
    },
    sha256: crypto.createHash('sha256').update(raw).digest('hex'),
  };
}
