import crypto from 'node:crypto';
import type { AddressObject, HeaderValue, ParsedMail } from 'mailparser';
import { headerFields, parseDeliveryStatus, type DeliveryReport } from '../deliverability/dsn.ts';
import { feedbackReportOf } from './feedback-report.ts';
import { htmlToText } from './html-text.ts';
import { MAIL_LIMITS, parseMime, unparsable } from './mime-parse.ts';
import type { ContactKind, IncomingReply } from './receive.ts';

const AUTO_SUBJECT =
  /^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?(reply|response)|auto:|abwesenheit|automatische antwort|r[ée]ponse automatique|absence)/i;
const BOUNCE_SENDER = /^(mailer-daemon|postmaster)@/i;

function headerText(value: HeaderValue | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && 'value' in value) return String((value as { value: unknown }).value);
  return String(value);
}

function addresses(value: AddressObject | AddressObject[] | undefined): string[] {
  return [value ?? []].flat().flatMap((a) => a.value.map((v) => v.address ?? '').filter(Boolean));
}

/** Whether a message is a delivery status report (RFC 3464): `multipart/report; report-type=delivery-status`. */
function isDeliveryReport(headers: Map<string, HeaderValue>): boolean {
  const contentType = headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  return contentType?.value === 'multipart/report' && /delivery-status/i.test(contentType.params?.['report-type'] ?? '');
}

/** Parts of a report that carry the original message, or its headers (RFC 3462, RFC 6533). */
const ORIGINAL_PARTS = ['text/rfc822-headers', 'message/rfc822', 'message/global-headers', 'message/global'];

/**
 * A delivery report's recipients (its `message/delivery-status` part, kept apart from the text by
 * `keepDeliveryStatus`) and the Message-ID of the original it quotes, if it quotes one.
 */
function deliveryReport(mail: ParsedMail): DeliveryReport | undefined {
  if (!isDeliveryReport(mail.headers)) return undefined;
  const type = (a: { contentType: string }) => a.contentType.toLowerCase();
  const status = mail.attachments.find((a) => ['message/delivery-status', 'message/global-delivery-status'].includes(type(a)));
  if (!status) return undefined;
  const original = mail.attachments.find((a) => ORIGINAL_PARTS.includes(type(a)));
  // The original's header block: up to its first blank line.
  const head = original?.content.toString('utf8', 0, MAIL_LIMITS.headBytes).split(/\r?\n\r?\n/)[0];
  const originalMessageId = head === undefined ? undefined : headerFields(head).get('message-id');
  return { recipients: parseDeliveryStatus(status.content.toString('utf8')), ...(originalMessageId ? { originalMessageId } : {}) };
}

/**
 * Whether a message was written by a person. RFC 3834's Auto-Submitted, the X-Autoreply family,
 * Precedence: bulk/junk/auto_reply and out-of-office subjects mark automatic replies; delivery
 * status reports (RFC 3464), a null sender and MAILER-DAEMON mark bounces.
 */
export function classify(headers: Map<string, HeaderValue>, from: string, subject: string, envelopeFrom?: string): ContactKind {
  if (isDeliveryReport(headers) || envelopeFrom === '' || BOUNCE_SENDER.test(from)) return 'bounce';
  const autoSubmitted = headerText(headers.get('auto-submitted'));
  if (autoSubmitted && autoSubmitted.trim().toLowerCase() !== 'no') return 'auto-reply';
  if (['x-autoreply', 'x-autorespond', 'x-autoresponder'].some((h) => headers.has(h))) return 'auto-reply';
  if (/^(oof|all)\b/i.test(headerText(headers.get('x-auto-response-suppress')) ?? '') && AUTO_SUBJECT.test(subject)) return 'auto-reply';
  const precedence = headerText(headers.get('precedence') ?? headers.get('x-precedence'))
    ?.trim()
    .toLowerCase();
  if (precedence && ['bulk', 'junk', 'list', 'auto_reply'].includes(precedence)) return 'auto-reply';
  if (AUTO_SUBJECT.test(subject)) return 'auto-reply';
  return 'human';
}

/**
 * Whether a line starts the quoted history: "On … wrote:", "Am … schrieb:", "Le … a écrit :", or
 * a separator. Each test is a prefix or a suffix (or one word), never `.*` between two parts, so
 * a line costs time linear in its length however it repeats those words.
 */
function startsHistory(line: string): boolean {
  const t = line.trim();
  return (
    (/^On\b/i.test(t) && /\bwrote:$/i.test(t)) ||
    (/^Am\b/i.test(t) && t.endsWith(':') && /\bschrieb\b/i.test(t)) ||
    (/^Le\b/i.test(t) && /\ba écrit\s*:$/i.test(t)) ||
    /^-{2,}\s*Original Message\s*-{2,}$/i.test(t) ||
    /^_{10,}$/.test(t)
  );
}

/** The new part of a reply: quoted lines and everything from an "On … wrote:" line are history. */
export function newPart(text: string): string {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const kept: string[] = [];
  for (const line of lines) {
    if (startsHistory(line)) break;
    if (/^\s*>/.test(line)) continue;
    kept.push(line);
  }
  const result = kept.join('\n').trim();
  return result || text.trim();
}

/** Reads a raw MIME message into what identification and qualification need. */
export async function parseInboundEmail(raw: Buffer, envelope: { from?: string; to?: string[] } = {}): Promise<IncomingReply> {
  const mail = await parseMime(raw);
  const from = (addresses(mail.from)[0] ?? envelope.from ?? '').toLowerCase();
  const subject = mail.subject ?? '';
  const html = typeof mail.html === 'string' ? mail.html : '';
  const body = (mail.text?.trim() || !html ? (mail.text ?? '') : await htmlToText(html)).slice(0, MAIL_LIMITS.text);
  const delivered = ['delivered-to', 'x-original-to'].flatMap((h) =>
    [mail.headers.get(h) ?? []].flat().map((v) => headerText(v as HeaderValue) ?? ''),
  );
  const reply: IncomingReply = {
    channel: 'email',
    // A message without a usable Message-ID is still recognised when it comes twice, by its content.
    externalId:
      mail.messageId && mail.messageId.length <= MAIL_LIMITS.messageId
        ? mail.messageId
        : `sha256:${crypto.createHash('sha256').update(raw).digest('hex')}`,
    kind: classify(mail.headers, from, subject, envelope.from),
    from,
    envelopeFrom: envelope.from || undefined,
    to: addresses(mail.to)[0],
    recipients: [...(envelope.to ?? []), ...addresses(mail.to), ...addresses(mail.cc), ...delivered]
      .map((a) => a.trim().toLowerCase())
      .filter(Boolean),
    subject,
    bodyText: body,
    text: newPart(body),
    inReplyTo: mail.inReplyTo,
    references: mail.references,
    // An abuse report from a feedback loop is a complaint about a message of ours, never a contact (complaints.ts).
    feedbackReport: await feedbackReportOf(mail, raw),
  };
  const report = deliveryReport(mail);
  if (report) reply.report = report;
  // RFC 5322 allows NUL nowhere, and PostgreSQL stores it in no text: refused, not retried.
  if (
    Object.values(reply)
      .flat()
      .some((v) => typeof v === 'string' && v.includes('\u0000')) ||
    JSON.stringify(report ?? {}).includes('\\u0000')
  )
    throw unparsable('it holds NUL characters');
  return reply;
}
