import fs from 'node:fs/promises';
import path from 'node:path';
import type { Channel, ChannelAdapter, OutgoingMessage, StartSend } from './channel.ts';
import { buildEmail, type EmailSender } from './mime.ts';

/** The file a message becomes in the outbox (erasure removes it by this name). */
export function outboxFileName(id: number, kind: Channel): string {
  return kind === 'sms' ? `message-${id}.sms.txt` : `message-${id}.eml`;
}

/**
 * The zero-setup transport: each email becomes `<dir>/message-<id>.eml`, readable in any mail
 * client; each SMS `<dir>/message-<id>.sms.txt`. Writing to a temporary name and renaming keeps a
 * half-written file from ever looking like a sent message.
 */
export function outboxChannel(options: EmailSender & { dir: string; kind?: Channel }): ChannelAdapter {
  let ready: Promise<unknown> | undefined;
  const render = async (message: OutgoingMessage): Promise<{ name: string; content: Buffer | string }> =>
    options.kind === 'sms'
      ? { name: outboxFileName(message.id, 'sms'), content: `To: ${message.to}\n\n${message.text}\n` }
      : {
          name: outboxFileName(message.id, 'email'),
          content: (await buildEmail(message, options)).raw,
        };
  return {
    name: 'outbox',
    destination: options.dir,
    concurrency: 4,
    async send(message: OutgoingMessage, start?: StartSend) {
      await (ready ??= fs.mkdir(options.dir, { recursive: true }));
      const { name, content } = await render(message);
      const confirm = await start?.();
      if (start && !confirm) return undefined;
      await confirm?.();
      const file = path.join(options.dir, name);
      const tmp = `${file}.${process.pid}.tmp`;
      await fs.writeFile(tmp, content);
      await fs.rename(tmp, file);
      return { providerId: `outbox:${name}` };
    },
    async probe() {
      await fs.mkdir(options.dir, { recursive: true });
    },
    async close() {},
  };
}
