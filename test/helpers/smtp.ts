import net from 'node:net';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface SmtpSink {
  url: string;
  messages: ParsedMail[];
  /** Each message's bytes as received, in the order of `messages` (for signature checks). */
  raw: Buffer[];
  /** The SMTP envelope of each message, in the order of `messages`: MAIL FROM (`''` for the null sender) and RCPT TO. */
  envelopes: { from: string; to: string[] }[];
  close(): Promise<void>;
  /** Resolves once `count` messages have arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
}

export interface SinkOptions {
  /** Answer a recipient with an SMTP error instead of accepting it. */
  refuse?: (rcpt: string) => { code: number; message: string } | undefined;
  /** Milliseconds to hold each message before accepting it (slow provider). */
  delayMs?: number;
  /** Listen on this port (a server started again after an outage); default any free one. */
  port?: number;
  /** How long `close` lets open connections finish before it answers them 421 and cuts them (default 30 s). */
  closeTimeoutMs?: number;
}

/** A real SMTP server on loopback, keeping every message it accepts. */
export async function startSmtpSink(options: SinkOptions = {}): Promise<SmtpSink> {
  const messages: ParsedMail[] = [];
  const raw: Buffer[] = [];
  const envelopes: SmtpSink['envelopes'] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    size: 10 * 1024 * 1024,
    closeTimeout: options.closeTimeoutMs,
    onRcptTo(address, _session, callback) {
      const refusal = options.refuse?.(address.address);
      if (!refusal) return callback();
      const err = new Error(refusal.message) as Error & { responseCode: number };
      err.responseCode = refusal.code;
      callback(err);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', callback);
      stream.on('end', () => {
        const bytes = Buffer.concat(chunks);
        simpleParser(bytes)
          .then(async (mail) => {
            if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
            const { mailFrom, rcptTo } = session.envelope;
            envelopes.push({ from: mailFrom === false ? '' : mailFrom.address, to: rcptTo.map((r) => r.address) });
            raw.push(bytes);
            messages.push(mail);
            callback();
          })
          .catch(callback);
      });
    },
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.server.address() as { port: number };
  return {
    url: `smtp://127.0.0.1:${port}?ignore_tls=true`,
    messages,
    raw,
    envelopes,
    close: () => new Promise((resolve) => server.close(() => resolve())),
    async waitFor(count, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} messages, got ${messages.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

/** Recipient address of a parsed message. */
export function recipient(mail: ParsedMail): string {
  const to = Array.isArray(mail.to) ? mail.to[0] : mail.to;
  return to?.value[0]?.address ?? '';
}

/** Delivers one message over SMTP to a local listener (the inbound side under test). */
export async function deliverMail(port: number, mail: SendMailOptions): Promise<void> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  try {
    await transport.sendMail(mail);
  } finally {
    transport.close();
  }
}

/** A bare SMTP client over a socket, for sessions no well-behaved client would hold (the attacks). */
export interface RawSmtp {
  /** The greeting's reply line. */
  greeting: Promise<string>;
  /** Sends one command line; resolves with its final reply line (or `closed`). */
  command(line: string): Promise<string>;
  /** Writes raw bytes (DATA content), waiting for the socket to drain. */
  write(data: string | Buffer): Promise<void>;
  /** Resolves with the next final reply line (or `closed`). */
  reply(): Promise<string>;
  close(): void;
}

export function rawSmtp(port: number): RawSmtp {
  const socket = net.connect(port, '127.0.0.1');
  const waiting: ((line: string) => void)[] = [];
  const early: string[] = [];
  let buffered = '';
  let closed = false;
  const settle = (line: string) => {
    const next = waiting.shift();
    if (next) next(line);
    else early.push(line);
  };
  socket.on('data', (chunk) => {
    buffered += chunk.toString('latin1');
    let end: number;
    while ((end = buffered.indexOf('\r\n')) >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      if (/^\d{3} /.test(line)) settle(line);
    }
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
    while (waiting.length > 0) settle('closed');
  });
  const reply = () =>
    new Promise<string>((resolve) => {
      if (early.length > 0) resolve(early.shift()!);
      else if (closed) resolve('closed');
      else waiting.push(resolve);
    });
  return {
    greeting: reply(),
    reply,
    command(line) {
      const answer = reply();
      socket.write(line + '\r\n');
      return answer;
    },
    write: (data) => new Promise((resolve) => (socket.write(data) ? resolve() : socket.once('drain', () => resolve()))),
    close: () => socket.destroy(),
  };
}
