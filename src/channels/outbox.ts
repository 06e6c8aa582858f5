import fs from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Channel, OutgoingMessage } from './channel.ts';
import { mailOptions } from './mime.ts';

/**
 * The zero-setup email transport: each message becomes `<dir>/message-<id>.eml`, readable in any
 * mail client. Writing to a temporary name and renaming keeps a half-written file from ever
 * looking like a sent message.
 */
export function outboxChannel(options: { dir: string; from: string; domain: string }): Channel {
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  let ready: Promise<unknown> | undefined;
  return {
    name: 'outbox',
    destination: options.dir,
    concurrency: 4,
    async send(message: OutgoingMessage) {
      await (ready ??= fs.mkdir(options.dir, { recursive: true }));
      const info = await composer.sendMail(mailOptions(message, options.from, options.domain));
      const file = path.join(options.dir, `message-${message.id}.eml`);
      const tmp = `${file}.${process.pid}.tmp`;
      await fs.writeFile(tmp, info.message as Buffer);
      await fs.rename(tmp, file);
      return { providerId: `outbox:${path.basename(file)}` };
    },
    async close() {
      composer.close();
    },
  };
}
