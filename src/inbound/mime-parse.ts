import { simpleParser, type ParsedMail } from 'mailparser';
import { AppError, errorMessage } from '../errors.ts';

/**
 * What an inbound mail may be. The parser refuses a message past these limits (as unparsable), so
 * a crafted one cannot make it walk thousands of parts or buffer megabytes of header.
 */
export const MAIL_LIMITS = {
  /** Stored text is cut here; the raw message is not kept, so nothing needs more. */
  text: 100_000,
  /** The header block of one MIME part, in bytes (long References chains are a few kB). */
  headBytes: 256 * 1024,
  /** MIME parts of one message (a reply with fifty photos has about fifty). */
  parts: 200,
  /** A longer Message-ID is not kept as the id (the unique index could not hold it); the content hash is. */
  messageId: 998,
};

/** An AppError that the SMTP listener answers with 554 and the webhook with 400: it will never parse. */
export const unparsable = (reason: string, cause?: unknown) =>
  new AppError('invalid_input', `the message cannot be parsed: ${reason}`, { cause });

/**
 * Parses raw MIME within MAIL_LIMITS. `keepEmbedded` leaves every message/rfc822 part as an
 * attachment (its raw bytes), for reports that quote another message (RFC 5965).
 */
export async function parseMime(raw: Buffer, options: { keepEmbedded?: boolean } = {}): Promise<ParsedMail> {
  try {
    return await simpleParser(raw, {
      skipImageLinks: true,
      skipTextToHtml: true,
      // HTML is converted by the caller, off the event loop (html-text.ts).
      skipHtmlToText: true,
      // A delivery report's status part stays a part of its own (inbound/email.ts deliveryReport), not text.
      keepDeliveryStatus: true,
      maxHeadSize: MAIL_LIMITS.headBytes,
      maxChildNodes: MAIL_LIMITS.parts,
      ignoreEmbedded: options.keepEmbedded ?? false,
    });
  } catch (err) {
    throw unparsable(errorMessage(err), err);
  }
}
