/**
 * The drills' mail provider: a real SMTP server (smtp-server) run as its own process, so that a
 * drill can kill it like a provider going away. It accepts every message and appends what it saw
 * to a JSON-lines record file, one line per event, written before the reply that event causes:
 *
 * - `accepted`: a message taken (its 250 follows the line): recipient, Message-ID, when its
 *   transaction started (MAIL FROM) and when it was accepted;
 * - `aborted`: a transaction (MAIL FROM seen, no 250 sent) cut by the client's connection closing,
 *   with its recipient when RCPT TO had arrived;
 * - `closed`: a connection's end, whether the client said QUIT or vanished.
 *
 * Times are epoch milliseconds with sub-millisecond precision, comparable with the drill's clock.
 *
 *   node --import tsx scripts/drills/lib/smtp-server.ts <port> <record-file> [latency-ms]
 *
 * Started with an IPC channel, it sends `{ listening: port }` once it accepts connections.
 */
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { now, type SmtpEvent } from './smtp-record.ts';

const [portArg, recordFile, latencyArg] = process.argv.slice(2);
if (!portArg || !recordFile) throw new Error('usage: smtp-server.ts <port> <record-file> [latency-ms]');
const latencyMs = Number(latencyArg ?? 0);
const record = fs.openSync(recordFile, 'a');

function write(event: SmtpEvent): void {
  fs.writeSync(record, JSON.stringify(event) + '\n');
}

/** The transaction each session has open: from MAIL FROM until its 250 (or the connection's end). */
const open = new Map<string, { mailAt: number; to: string | null }>();

/** Reads the Message-ID from the header block and drains the rest of the message. */
function messageIdOf(stream: NodeJS.ReadableStream): Promise<string | null> {
  return new Promise((resolve, reject) => {
    let head = '';
    let found: string | null | undefined;
    stream.on('data', (chunk: Buffer) => {
      if (found !== undefined) return;
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0 && head.length < 64 * 1024) return;
      found = /^message-id:[ \t]*(<[^>\r\n]+>)/im.exec(end < 0 ? head : head.slice(0, end))?.[1] ?? null;
    });
    stream.on('end', () => resolve(found ?? /^message-id:[ \t]*(<[^>\r\n]+>)/im.exec(head)?.[1] ?? null));
    stream.on('error', reject);
  });
}

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  size: 10 * 1024 * 1024,
  onMailFrom(_address, session, callback) {
    open.set(session.id, { mailAt: now(), to: null });
    callback();
  },
  onRcptTo(address, session, callback) {
    const transaction = open.get(session.id);
    if (transaction) transaction.to = address.address.toLowerCase();
    callback();
  },
  onData(stream, session, callback) {
    messageIdOf(stream).then(
      async (messageId) => {
        if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
        const transaction = open.get(session.id);
        // Gone while held (slow provider): recorded as aborted by onClose, never accepted.
        if (!transaction) return callback();
        open.delete(session.id);
        write({ event: 'accepted', at: now(), session: session.id, mailAt: transaction.mailAt, to: transaction.to, messageId });
        callback();
      },
      (err: Error) => callback(err),
    );
  },
  onClose(session) {
    const transaction = open.get(session.id);
    open.delete(session.id);
    if (transaction)
      write({ event: 'aborted', at: now(), session: session.id, mailAt: transaction.mailAt, to: transaction.to, messageId: null });
    write({ event: 'closed', at: now(), session: session.id });
  },
});
// A client vanishing mid-transaction is what the drills cause on purpose; it is recorded, not fatal.
server.on('error', () => {});
server.listen(Number(portArg), '127.0.0.1', () => {
  process.send?.({ listening: (server.server.address() as AddressInfo).port });
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
