import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { Readable } from 'node:stream';
import { SendError, type ChannelAdapter, type ChannelFailure, type OutgoingMessage, type StartSend } from './channel.ts';
import { buildEmail, type EmailSender } from './mime.ts';

/** What nodemailer attaches to a failure: its own code, the system's, the step and the reply. */
interface SmtpFailure {
  code?: string;
  originalCode?: string;
  timeoutType?: string;
  command?: string;
  responseCode?: number;
  response?: string;
  message: string;
}

/**
 * Whether the server, rather than this message, failed once the message was being handed over
 * (see ChannelFailure): a 421 turns the session away (RFC 5321 4.2.2) without taking the message;
 * a connection that broke or went silent mid-transaction may have delivered it. A reply about
 * this message (a 4xx or 5xx to MAIL, RCPT or DATA) is not the channel's failure.
 */
export function channelFailure(err: SmtpFailure): ChannelFailure | undefined {
  if (err.responseCode === 421) return 'unreachable';
  if (err.responseCode === undefined && (err.code === 'ECONNECTION' || err.code === 'ESOCKET' || err.code === 'ETIMEDOUT')) {
    return 'interrupted';
  }
  return undefined;
}

/** 5xx replies about a message are the receiver's final word (RFC 5321); everything else may pass on retry. */
export function isPermanent(err: SmtpFailure): boolean {
  return channelFailure(err) === undefined && typeof err.responseCode === 'number' && err.responseCode >= 500 && err.responseCode < 600;
}

/** A session is closed by us after this many messages (servers limit them) or this long idle (before the server does, RFC 5321 4.5.3.2.7). */
const MAX_MESSAGES = 1000;
const MAX_IDLE_MS = 4 * 60_000;

/** One SMTP connection, opened when a message needs it and kept open for the next ones. */
class SmtpSession {
  private connection: SMTPConnection | undefined;
  private sent = 0;
  private lastUsed = 0;

  constructor(
    private readonly options: SMTPConnection.Options,
    private readonly credentials: SMTPConnection.Credentials | undefined,
  ) {}

  /** Opens the connection unless it is open and fresh: greeting, EHLO, STARTTLS, login. */
  async open(): Promise<void> {
    if (this.connection && this.sent < MAX_MESSAGES && Date.now() - this.lastUsed < MAX_IDLE_MS) return;
    this.end();
    const connection = new SMTPConnection(this.options);
    // A connection that ends or fails between messages is opened again for the next one.
    const drop = () => {
      if (this.connection === connection) this.connection = undefined;
    };
    connection.on('error', drop);
    connection.on('end', drop);
    try {
      // Connecting reports most failures as an 'error' event, some through the callback.
      await new Promise<void>((resolve, reject) => {
        connection.once('error', reject);
        connection.connect((err) => (err ? reject(err) : resolve()));
      });
      const credentials = this.credentials;
      if (credentials)
        await new Promise<void>((resolve, reject) => connection.login(credentials, (err) => (err ? reject(err) : resolve())));
    } catch (err) {
      connection.close();
      throw err;
    }
    this.connection = connection;
    this.sent = 0;
    this.lastUsed = Date.now();
  }

  /** Whether the connection is open (the server may have closed it since `open`). */
  get isOpen(): boolean {
    return this.connection !== undefined;
  }

  /**
   * Sends one message on the open connection. With `confirm`, the body goes only once the server
   * has taken the envelope and asked for it (354), and `confirm` resolved.
   */
  async send(envelope: SMTPConnection.Envelope, raw: Buffer, confirm?: () => Promise<void>): Promise<void> {
    const connection = this.connection!;
    this.sent++;
    this.lastUsed = Date.now();
    let asked = false;
    const body = confirm
      ? new Readable({
          read() {
            if (asked) return;
            asked = true;
            confirm().then(
              () => (this.push(raw), this.push(null)),
              (err: Error) => this.destroy(err),
            );
          },
        })
      : raw;
    try {
      await new Promise<void>((resolve, reject) => connection.send(envelope, body, (err) => (err ? reject(err) : resolve())));
    } catch (err) {
      // A refusal leaves the session usable once reset (RSET); anything else ends it.
      if ((err as SmtpFailure).responseCode === undefined || (err as SmtpFailure).responseCode === 421) this.end(false);
      else
        await new Promise<void>((resolve) =>
          connection.reset((failed) => {
            if (failed) this.end(false);
            resolve();
          }),
        );
      throw err;
    }
  }

  /** Ends the connection: with QUIT when it is healthy, else at once. */
  end(healthy = true): void {
    const connection = this.connection;
    this.connection = undefined;
    if (healthy) connection?.quit();
    else connection?.close();
  }
}

/**
 * Email over SMTP, with as many connections as sends at once, each kept open between messages.
 * A message is composed first; `start` is called only once a connection is open and idle (never
 * while the server cannot be reached: that fails `unreachable` before it), MAIL FROM, RCPT TO and
 * DATA follow at once, and the body only after the server asked for it and the start is confirmed.
 */
export function smtpChannel(options: EmailSender & { url: string; connections: number }): ChannelAdapter {
  const url = new URL(options.url);
  const secure = url.protocol === 'smtps:';
  const connection: SMTPConnection.Options = {
    host: url.hostname,
    port: Number(url.port) || (secure ? 465 : 587),
    secure,
    tls: { rejectUnauthorized: url.searchParams.get('tls_reject_unauthorized') !== 'false' },
    ignoreTLS: url.searchParams.get('ignore_tls') === 'true',
  };
  const credentials = url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined;
  const idle = Array.from({ length: options.connections }, () => new SmtpSession(connection, credentials));
  const waiting: ((session: SmtpSession) => void)[] = [];
  let closed = false;
  const acquire = () => idle.pop() ?? new Promise<SmtpSession>((resolve) => waiting.push(resolve));
  const release = (session: SmtpSession) => {
    const next = waiting.shift();
    if (next) next(session);
    else idle.push(session);
    if (closed) session.end();
  };

  /** A session opened for a probe, or a message that has not started: the server could not be reached. */
  const opened = async (session: SmtpSession) => {
    try {
      await session.open();
    } catch (cause) {
      throw new SendError((cause as SmtpFailure).message, false, { cause, channelFailure: 'unreachable' });
    }
  };

  return {
    name: 'smtp',
    destination: `smtp://${url.host}`,
    concurrency: options.connections,
    async send(message: OutgoingMessage, start?: StartSend) {
      const mail = await buildEmail(message, options);
      const session = await acquire();
      try {
        await opened(session);
        const confirm = await start?.();
        if (start && !confirm) return undefined;
        if (!session.isOpen) {
          throw new SendError('the server closed the connection before the message was offered', false, { channelFailure: 'unreachable' });
        }
        try {
          await session.send(mail.envelope, mail.raw, confirm);
        } catch (cause) {
          const err = cause as SmtpFailure;
          const permanent = isPermanent(err);
          // A 5xx to MAIL FROM or DATA is about us or the content; only one to RCPT TO is about the address.
          const addressRefused = permanent && err.command === 'RCPT TO';
          throw new SendError(err.response ?? err.message, permanent, { cause, channelFailure: channelFailure(err), addressRefused });
        }
        return { providerId: mail.messageId };
      } finally {
        release(session);
      }
    },
    async probe() {
      const session = new SmtpSession(connection, credentials);
      await opened(session);
      session.end();
    },
    async close() {
      closed = true;
      for (const session of idle) session.end();
    },
  };
}
