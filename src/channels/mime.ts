import type Mail from 'nodemailer/lib/mailer/index.js';
import type { OutgoingMessage } from './channel.ts';
import { ourMessageId } from '../inbound/addresses.ts';

/**
 * Mail options shared by every email adapter. The Message-ID is derived from our message id, so a
 * retried send of the same message carries the same Message-ID and receivers can fold duplicates.
 */
export function mailOptions(message: OutgoingMessage, from: string, domain: string): Mail.Options {
  return {
    from,
    to: message.to,
    subject: message.subject,
    html: message.html,
    text: message.text,
    headers: message.headers,
    messageId: ourMessageId(message.id, domain),
  };
}
