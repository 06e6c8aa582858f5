import type Mail from 'nodemailer/lib/mailer/index.js';
import type { OutgoingMessage } from './channel.ts';
import { ourMessageId } from '../inbound/addresses.ts';

/** What an email adapter needs to give a message its Message-ID: our public host and the signing key. */
export interface MessageIdKey {
  domain: string;
  secret: string;
}

/**
 * Mail options shared by every email adapter. The Message-ID is derived from our message id and
 * signed, so a retried send of the same message carries the same Message-ID (receivers can fold
 * duplicates) and a reply quoting it identifies its sender with authority.
 */
export function mailOptions(message: OutgoingMessage, from: string, key: MessageIdKey): Mail.Options {
  return {
    from,
    to: message.to,
    subject: message.subject,
    html: message.html,
    text: message.text,
    headers: message.headers,
    messageId: ourMessageId(key.secret, key.domain, message.id),
  };
}
