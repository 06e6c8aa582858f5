import path from 'node:path';
import nodemailer from 'nodemailer';
import { freePort, ManagedProcess, TSX } from '../drills/lib/processes.ts';

/**
 * The benchmarks' mail provider: the drills' SMTP server (scripts/drills/lib/smtp-server.ts) in its
 * own process, as a provider is, so that neither the engine nor the raw baseline shares a CPU
 * thread with it. It records every accepted message to `recordFile`.
 */
export async function startSmtpProcess(dir: string, recordFile: string): Promise<{ port: number; process: ManagedProcess }> {
  const port = await freePort();
  const smtp = new ManagedProcess(
    'smtp',
    [...TSX, path.resolve(import.meta.dirname, '../drills/lib/smtp-server.ts'), String(port), recordFile, '0'],
    { cwd: dir, env: process.env, log: path.join(dir, 'smtp.log'), ipc: true },
  );
  const child = smtp.start()!;
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the SMTP server exited (${code}) before listening; see ${dir}/smtp.log`)));
  });
  return { port, process: smtp };
}

/** About the size of the benchmark campaign's messages. */
const HTML = `<p>Hello there, this is a benchmark message of about the size a campaign sends.</p>
<p>Our spring collection is here, with something for every taste. Have a look before it is gone.</p>
<p><a href="https://shop.example.com/spring">Shop now</a></p>
<p style="font-size:12px;color:#666">You get this email because you subscribed to our newsletter.
<a href="https://touchpoint.example.com/u/0123456789abcdef0123456789abcdef">Unsubscribe</a>.</p>`;

/**
 * The raw baseline: `n` messages through pooled nodemailer (`connections` connections, as the
 * dispatcher's pool), nothing else in the way. Returns messages per second.
 */
export async function rawNodemailer(port: number, n: number, connections: number): Promise<number> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, pool: true, maxConnections: connections, ignoreTLS: true });
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < n) {
        const i = next++;
        await transport.sendMail({
          from: 'bench@example.com',
          to: `raw-${i}@example.com`,
          subject: `Hello ${i}`,
          html: HTML,
          text: 'Hello there',
        });
      }
    }),
  );
  transport.close();
  return n / ((performance.now() - started) / 1000);
}
