import type pg from 'pg';
import { messageIdFromAddress } from '../inbound/addresses.ts';
import { log } from '../log.ts';
import { recordBounce } from './bounces.ts';
import { bounceOutcome, type DeliveryReport } from './dsn.ts';

/** Mail that came back, as the inbound path parsed it (inbound/email.ts). */
export interface BounceMail {
  /** Every address it was delivered to (envelope, To, Delivered-To): where our return path is. */
  recipients?: string[];
  /** Its delivery status report, when it is one (RFC 3464). */
  report?: DeliveryReport;
  /** Its Message-ID, or content hash. */
  externalId: string;
}

const RETURN_PATH = /^bounce\+[^@]*@/i;

/**
 * Whether mail is a bounce rather than someone writing to us: it was sent to one of our return
 * paths (`bounce+<token>@…`), or it is a delivery status report. Bounces never become contacts.
 */
export function isBounceMail(mail: BounceMail): boolean {
  return mail.report !== undefined || (mail.recipients ?? []).some((r) => RETURN_PATH.test(r));
}

/** What receiving a bounce did: how many recipients' outcomes it recorded, or that all were known already. */
export interface ReceivedBounce {
  recorded: number;
  duplicate: boolean;
}

/**
 * Records a bounce, in the caller's transaction. Its message is the one its return path names
 * (the signed token, checked), else the one whose Message-ID (ours, signed) the report quotes from
 * the original's headers. A return path whose token does not verify is forged or mangled: the
 * mail is logged and ignored, and nothing else in it is trusted. Each recipient's block of the
 * report counts by its Action and Status (dsn.ts); mail without a report, or naming no message of
 * ours, records nothing.
 */
export async function receiveBounce(client: pg.PoolClient, secret: string, mail: BounceMail, now: Date): Promise<ReceivedBounce> {
  const nothing = { recorded: 0, duplicate: false };
  const returnPaths = (mail.recipients ?? []).filter((r) => RETURN_PATH.test(r));
  const byToken = returnPaths.map((r) => messageIdFromAddress(secret, 'bounce', r)).find((id) => id !== undefined);
  if (returnPaths.length > 0 && byToken === undefined) {
    log.warn('a bounce came to a return path we did not sign; ignored', { mail: mail.externalId });
    return nothing;
  }
  const quoted = /^<?([^<>\s]+)>?$/.exec(mail.report?.originalMessageId ?? '')?.[1];
  const messageId = byToken ?? (quoted ? messageIdFromAddress(secret, 'message', quoted) : undefined);
  if (messageId === undefined || !mail.report) {
    log.info('a bounce names no message of ours, or carries no delivery report; nothing recorded', { mail: mail.externalId });
    return nothing;
  }
  let recorded = 0;
  let duplicates = 0;
  for (const r of mail.report.recipients) {
    const outcome = bounceOutcome(r);
    if (!outcome) continue;
    const result = await recordBounce(
      client,
      {
        messageId,
        outcome,
        source: 'dsn',
        action: r.action,
        status: r.status,
        diagnostic: r.diagnostic,
        finalRecipient: r.finalRecipient,
        mailId: mail.externalId,
      },
      now,
    );
    if (result?.duplicate) duplicates++;
    else if (result) recorded++;
  }
  return { recorded, duplicate: recorded === 0 && duplicates > 0 };
}
