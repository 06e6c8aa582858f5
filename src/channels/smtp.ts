import nodemailer from 'nodemailer';
import { SendError, type ChannelAdapter, type OutgoingMessage } from './channel.ts';
import { mailOptions, type MessageIdKey } from './mime.ts';

interface SmtpFailure {
  code?: string;
  responseCode?: number;
  response?: string;
  message: string;
}

/** 5xx replies are the receiver's final word (RFC 5321); everything else may pass on retry. */
export function isPermanent(err: SmtpFailure): boolean {
  return typeof err.responseCode === 'number' && err.responseCode >= 500 && err.responseCode < 600;
}

/** Email over SMTP with nodemailer's pooled transport. */
export function smtpChannel(options: { url: string; from: string; messageIds: MessageIdKey; connections: number }): ChannelAdapter {
  const url = new URL(options.url);
  // Pooling and limits come from us, not the URL, so the pool is always sized to the dispatcher.
  const transport = nodemailer.createTransport({
    host: url.hostname,
    port: Number(url.port) || (url.protocol === 'smtps:' ? 465 : 587),
    secure: url.protocol === 'smtps:',
    auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    pool: true,
    maxConnections: options.connections,
    maxMessages: 1000,
    tls: { rejectUnauthorized: url.searchParams.get('tls_reject_unauthorized') !== 'false' },
    ignoreTLS: url.searchParams.get('ignore_tls') === 'true',
  });
  return {
    name: 'smtp',
    destination: `smtp://${url.host}`,
    concurrency: options.connections,
    async send(message: OutgoingMessage) {
      try {
        const info = await transport.sendMail(mailOptions(message, options.from, options.messageIds));
        return { providerId: info.messageId };
      } catch (cause) {
        const err = cause as SmtpFailure;
        throw new SendError(err.response ?? err.message, isPermanent(err), { cause });
      }
    },
    async close() {
      transport.close();
    },
  };
}
