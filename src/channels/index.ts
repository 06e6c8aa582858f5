import path from 'node:path';
import type { Config } from '../config.ts';
import type { ChannelAdapter, ChannelAdapters } from './channel.ts';
import { addressDomain, DkimSigner } from './dkim.ts';
import type { EmailSender, MessageIdKey } from './mime.ts';
import { outboxChannel } from './outbox.ts';
import { smtpChannel } from './smtp.ts';
import { twilioChannel } from './twilio.ts';

/** Where the outbox keeps `.eml` files; printed by `serve` and `run` so people know where to look. */
export function outboxDir(config: Config): string {
  return path.join(config.dataDir, 'outbox');
}

/** The domain of our Message-IDs (`<message+<token>@domain>`): PUBLIC_URL's host. */
export function messageDomain(config: Config): string {
  return new URL(config.publicUrl).hostname;
}

/**
 * The configured adapter per channel: SMTP when SMTP_URL is set, Twilio when its credentials are,
 * else the outbox. `secret` signs the Message-IDs of emails; with `bounceDomain` (the outbox's
 * messages: INBOUND_DOMAIN), each email also gets its signed return path there (channels/mime.ts).
 */
export function createChannels(config: Config, secret: string, bounceDomain?: string): ChannelAdapters {
  const messageIds = { domain: messageDomain(config), secret };
  const email = emailChannel(config, { ...messageIds, bounceDomain });
  const sms = config.twilio
    ? twilioChannel({
        ...config.twilio,
        concurrency: config.dispatch.concurrency,
        statusCallback: `${config.publicUrl}/webhooks/twilio/status`,
      })
    : outboxChannel({ dir: outboxDir(config), from: config.mailFrom, messageIds, kind: 'sms' });
  return { email, sms };
}

/**
 * The configured email adapter alone (SMTP, else the outbox), its Message-IDs signed with `secret`.
 * Mail that is not the outbox's messages (agent notifications) names its own outbox folder, so
 * its files never take the names of messages' files.
 */
export function createEmailChannel(config: Config, secret: string, outboxSubdir?: string): ChannelAdapter {
  return emailChannel(config, { domain: messageDomain(config), secret }, outboxSubdir);
}

function emailChannel(config: Config, messageIds: MessageIdKey, outboxSubdir?: string): ChannelAdapter {
  const sender: EmailSender = { from: config.mailFrom, messageIds, dkim: new DkimSigner(config.dkimKeys) };
  return config.smtpUrl
    ? smtpChannel({ ...sender, url: config.smtpUrl, connections: config.dispatch.concurrency })
    : outboxChannel({ ...sender, dir: path.join(outboxDir(config), outboxSubdir ?? '') });
}

/**
 * Why email will go out without a DKIM signature, or nothing: said once when a process starts
 * sending. Outbox-only setups without keys are left quiet (nothing leaves the machine).
 */
export function unsignedEmailWarning(config: Config): string | undefined {
  const domain = addressDomain(config.mailFrom);
  if (domain !== undefined && config.dkimKeys.some((k) => k.domain === domain)) return undefined;
  if (!config.smtpUrl && config.dkimKeys.length === 0) return undefined;
  return `email from ${domain ?? config.mailFrom} (MAIL_FROM) goes out without a DKIM signature: no key for that domain (set DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE, or add <selector>._domainkey.${domain ?? '<domain>'}.pem to DKIM_KEYS_DIR); mailbox providers reject or spam-folder unsigned bulk mail`;
}

export async function closeChannels(channels: ChannelAdapters): Promise<void> {
  await Promise.all(Object.values(channels).map((c) => c.close()));
}
