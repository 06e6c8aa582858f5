import type Mail from 'nodemailer/lib/mailer/index.js';
import MailComposer from 'nodemailer/lib/mail-composer';
import type SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { OutgoingMessage } from './channel.ts';
import { addressDomain, type DkimSigner } from './dkim.ts';
import { bounceAddress, ourMessageId } from '../inbound/addresses.ts';

/**
 * What an email adapter needs to give a message its Message-ID: our public host and the signing
 * key; with `bounceDomain`, also its own return path there (see mailOptions).
 */
export interface MessageIdKey {
  domain: string;
  secret: string;
  bounceDomain?: string;
}

/** Who an email adapter's messages come from, and how they are signed (none: unsigned). */
export interface EmailSender {
  from: string;
  messageIds: MessageIdKey;
  dkim?: DkimSigner;
}

/** A message as it goes on the wire (or into the outbox): its bytes, envelope and Message-ID. */
export interface BuiltEmail {
  raw: Buffer;
  envelope: SMTPConnection.Envelope;
  messageId: string;
}

/**
 * Mail options shared by every email adapter. The Message-ID is derived from our message id and
 * signed, so a retried send of the same message carries the same Message-ID (receivers can fold
 * duplicates) and a reply quoting it identifies its sender with authority. With a bounce domain,
 * the envelope sender (MAIL FROM, which receivers write into Return-Path and send bounces to) is
 * `bounce+<token>@<bounce domain>`, signed the same way: a bounce names its message without any
 * guessing (VERP), and nobody can bounce someone else's message. The From header stays `from`.
 */
function mailOptions(message: OutgoingMessage, from: string, key: MessageIdKey): Mail.Options {
  return {
    from,
    to: message.to,
    subject: message.subject,
    html: message.html,
    text: message.text,
    headers: message.headers,
    messageId: ourMessageId(key.secret, key.domain, message.id),
    ...(key.bounceDomain ? { envelope: { from: bounceAddress(key.secret, key.bounceDomain, message.id), to: message.to } } : {}),
  };
}

/**
 * The bytes of an email, built once for every adapter (SMTP and outbox alike) and DKIM-signed
 * with the key of its From domain, so what the outbox keeps is what SMTP would have sent.
 */
export async function buildEmail(message: OutgoingMessage, sender: EmailSender): Promise<BuiltEmail> {
  const mail = new MailComposer(mailOptions(message, sender.from, sender.messageIds)).compile();
  const raw = await mail.build();
  return {
    raw: sender.dkim ? await sender.dkim.sign(raw, addressDomain(sender.from)) : raw,
    envelope: mail.getEnvelope(),
    messageId: mail.messageId(),
  };
}
