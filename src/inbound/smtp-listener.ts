import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { errorMessage } from '../errors.ts';
import { log } from '../log.ts';
import { parseInboundEmail } from './email.ts';
import type { IncomingReply, Received } from './receive.ts';

export interface InboundSmtpOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Only mail for this domain is accepted: the listener is nobody's relay. */
  domain: string;
  maxBytes: number;
  receive(reply: IncomingReply): Promise<Received>;
}

export interface InboundSmtp {
  port: number;
  close(): Promise<void>;
}

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

async function readAll(stream: SMTPServerDataStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Receives replies over SMTP. A message is acknowledged (250) only after its contact is committed,
 * and a failure answers 451 so the sending server tries again later: nothing is lost. Oversized
 * messages are refused with 552 before they are stored.
 */
export async function startInboundSmtp(options: InboundSmtpOptions): Promise<InboundSmtp> {
  const domain = options.domain.toLowerCase();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    banner: 'Touchpoint inbound',
    size: options.maxBytes,
    onRcptTo(address, _session, callback) {
      if (address.address.toLowerCase().endsWith(`@${domain}`)) return callback();
      callback(smtpError(550, `no mailbox here for ${address.address}; this server accepts mail for ${domain} only`));
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      readAll(stream)
        .then(async (raw) => {
          if (stream.sizeExceeded) return callback(smtpError(552, `message exceeds ${options.maxBytes} bytes`));
          const mailFrom = session.envelope.mailFrom;
          const reply = await parseInboundEmail(raw, {
            from: mailFrom === false ? undefined : mailFrom.address.toLowerCase(),
            to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
          });
          const { contactId, duplicate } = await options.receive(reply);
          log.info('reply received by SMTP', { contact: contactId, duplicate, kind: reply.kind });
          callback(null, `queued as contact ${contactId}`);
        })
        .catch((err: unknown) => {
          log.error('inbound mail could not be stored; the sender will retry', { error: errorMessage(err) });
          callback(smtpError(451, 'temporary failure storing the message; try again later'));
        });
    },
  });
  server.on('error', (err) => log.warn('inbound SMTP connection error', { error: errorMessage(err) }));
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.server.address() as { port: number };
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
