import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { Config } from '../config.ts';
import { AppError, errorMessage } from '../errors.ts';
import { log } from '../log.ts';
import { parseInboundEmail } from './email.ts';
import type { IncomingReply, Received } from './receive.ts';

/** The limits come from the configuration (INBOUND_MAX_BYTES, INBOUND_SMTP_MAX_*). */
type Limits = Pick<Config['inbound'], 'maxBytes' | 'maxRecipients' | 'maxConnectionsPerClient'>;

export interface InboundSmtpOptions extends Limits {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Only mail for this domain is accepted: the listener is nobody's relay. */
  domain: string;
  receive(reply: IncomingReply): Promise<Received>;
}

export interface InboundSmtp {
  port: number;
  close(): Promise<void>;
}

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

/**
 * The message, or undefined once it grows past the limit: from then on the rest of it is read and
 * dropped (the sender expects an answer only after its final dot), never kept.
 */
function readWithin(stream: SMTPServerDataStream): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer) => {
      if (!stream.sizeExceeded) return void chunks.push(chunk);
      chunks.length = 0;
      // The stream keeps flowing without a listener, so smtp-server drains what is left.
      stream.off('data', onData);
      resolve(undefined);
    };
    stream.on('data', onData);
    stream.once('end', () => resolve(stream.sizeExceeded ? undefined : Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/**
 * Receives replies over SMTP. A message is acknowledged (250) only after its contact is committed;
 * a failure to store it answers 451, so the sending server tries again later and nothing is lost.
 * What can never succeed is refused for good, so that nobody retries it forever: a message over
 * the size limit (552, without keeping more of it than the limit), one that cannot be parsed
 * (554). Recipients per message (452) and connections per client address (421) are capped.
 */
export async function startInboundSmtp(options: InboundSmtpOptions): Promise<InboundSmtp> {
  const domain = options.domain.toLowerCase();
  const connections = new Map<string, number>();
  /** Sessions counted in `connections` (a refused one is closed too, but was never counted). */
  const counted = new Set<string>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    banner: 'Touchpoint inbound',
    size: options.maxBytes,
    rejectOversized: true,
    maxRecipients: options.maxRecipients,
    onConnect(session, callback) {
      const open = connections.get(session.remoteAddress) ?? 0;
      if (open >= options.maxConnectionsPerClient) {
        return callback(smtpError(421, `too many connections from ${session.remoteAddress}; try again later`));
      }
      connections.set(session.remoteAddress, open + 1);
      counted.add(session.id);
      callback();
    },
    onClose(session) {
      if (!counted.delete(session.id)) return;
      const open = (connections.get(session.remoteAddress) ?? 1) - 1;
      if (open > 0) connections.set(session.remoteAddress, open);
      else connections.delete(session.remoteAddress);
    },
    onRcptTo(address, _session, callback) {
      if (address.address.toLowerCase().endsWith(`@${domain}`)) return callback();
      callback(smtpError(550, `no mailbox here for ${address.address}; this server accepts mail for ${domain} only`));
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      readWithin(stream)
        .then(async (raw) => {
          // smtp-server answers 552 itself (rejectOversized) once the rest has been drained.
          if (!raw) return callback(smtpError(552, `message exceeds ${options.maxBytes} bytes`));
          const mailFrom = session.envelope.mailFrom;
          const reply = await parseInboundEmail(raw, {
            from: mailFrom === false ? undefined : mailFrom.address.toLowerCase(),
            to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
          });
          const { contactId, duplicate, complaint, bounce } = await options.receive(reply);
          // An abuse report is accepted whatever became of it (complaints.ts): a refusal would only make the feedback loop retry.
          if (complaint) return callback(null, `feedback report received: ${complaint}`);
          if (bounce) {
            log.info('bounce received by SMTP', { mail: reply.externalId, duplicate });
            return callback(null, 'bounce recorded');
          }
          log.info('reply received by SMTP', { contact: contactId, duplicate, kind: reply.kind });
          callback(null, `queued as contact ${contactId}`);
        })
        .catch((err: unknown) => {
          if ((err as { code?: unknown }).code === 'ECONNECTION') {
            // The sender went away mid-message; it has no answer to wait for, and will send again.
            return log.debug('inbound mail abandoned by the sender', { error: errorMessage(err) });
          }
          if (err instanceof AppError && err.code === 'invalid_input') {
            log.warn('inbound mail refused: it cannot be parsed', { error: errorMessage(err) });
            return callback(smtpError(554, `${err.message}; this message will never be accepted`));
          }
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
