import crypto from 'node:crypto';
import { convert } from 'html-to-text';
import { simpleParser, type AddressObject, type HeaderValue } from 'mailparser';
import type { ContactKind, IncomingReply } from './receive.ts';

/** Stored text is cut here; the raw message is not kept, so nothing needs more. */
const MAX_TEXT = 100_000;

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

/**
 * Whether a message was written by a person. RFC 3834's Auto-Submitted, the X-Autoreply family,
 * Precedence: bulk/junk/auto_reply and out-of-office subjects mark automatic replies; delivery
 * status reports (RFC 3464), a null sender and MAILER-DAEMON mark bounces.
 */
export function classify(headers: Map<string, HeaderValue>, from: string, subject: string, envelopeFrom?: string): ContactKind {
  const contentType = headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  const report = contentType?.value === 'multipart/report' && /delivery-status/i.test(contentType.params?.['report-type'] ?? '');
  if (report || envelopeFrom === '' || BOUNCE_SENDER.test(from)) return 'bounce';
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

/** The new part of a reply: quoted lines and everything from an "On … wrote:" line are history. */
export function newPart(text: string): string {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const kept: string[] = [];
  for (const line of lines) {
    if (/^\s*(On\b.*\bwrote:|Am\b.*\bschrieb\b.*:|Le\b.*\ba écrit\s*:|-{2,}\s*Original Message\s*-{2,}|_{10,})\s*$/i.test(line)) break;
    if (/^\s*>/.test(line)) continue;
    kept.push(line);
  }
  const result = kept.join('\n').trim();
  return result || text.trim();
}

/** Reads a raw MIME message into what identification and qualification need. */
export async function parseInboundEmail(raw: Buffer, envelope: { from?: string; to?: string[] } = {}): Promise<IncomingReply> {
  const mail = await simpleParser(raw, { skipImageLinks: true, skipTextToHtml: true });
  const from = (addresses(mail.from)[0] ?? envelope.from ?? '').toLowerCase();
  const subject = mail.subject ?? '';
  const body = (mail.text ?? (typeof mail.html === 'string' ? convert(mail.html, { wordwrap: false }) : '')).slice(0, MAX_TEXT);
  const delivered = ['delivered-to', 'x-original-to'].flatMap((h) =>
    [mail.headers.get(h) ?? []].flat().map((v) => headerText(v as HeaderValue) ?? ''),
  );
  return {
    channel: 'email',
    // A message without a Message-ID is still recognised when it comes twice, by its content.
    externalId: mail.messageId ?? `sha256:${crypto.createHash('sha256').update(raw).digest('hex')}`,
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
  };
}
