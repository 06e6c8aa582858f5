import type pg from 'pg';
import { appendConsentEvents, type ConsentEventInput } from '../consent/ledger.ts';
import { queueReceipt, type ReceiptDeps } from '../consent/receipt.ts';
import { statement } from '../db/statement.ts';
import { withTransaction } from '../db/tx.ts';
import { languageFor } from '../render/locale.ts';
import { firstReceipt } from './receipts.ts';
import { bareKeyword, smsKeyword, type SmsKeyword } from './sms-keywords.ts';

export interface InboundSms {
  messageSid: string;
  from: string;
  to: string;
  body: string;
  optOutType?: string;
}

export interface InboundSmsResult {
  duplicate: boolean;
  keyword?: SmsKeyword;
  /** Leads whose consent the keyword changed. */
  leads: number;
  /** Text to answer with, when Twilio did not answer the keyword itself. */
  reply?: string;
}

const LEADS_OF_NUMBER = statement(
  'inbound.leads-of-number',
  `SELECT l.id, l.locale, array_agg(s.purpose) FILTER (WHERE s.status <> 'withdrawn') AS purposes
     FROM leads l LEFT JOIN consent_state s ON s.lead_id = l.id AND s.channel = 'sms'
    WHERE l.phone = $1 GROUP BY l.id ORDER BY l.id DESC`,
);

/**
 * Handles an inbound SMS once per MessageSid: STOP-family keywords withdraw the sender's SMS
 * consent (every purpose), START re-grants marketing, HELP answers with the help text (`helpText`
 * when configured). Answers are in the language of the number's newest lead with a locale. When
 * Twilio reports it already answered the keyword (`OptOutType`), no second confirmation is sent.
 * With `receipts` (CONSENT_RECEIPTS), each change is receipted by email, in its transaction.
 */
export async function handleInboundSms(
  pool: pg.Pool,
  sms: InboundSms,
  helpText: string | undefined,
  now: Date,
  receipts?: ReceiptDeps,
): Promise<InboundSmsResult> {
  return withTransaction(pool, async (client) => {
    if (!(await firstReceipt(client, 'twilio', sms.messageSid, 'sms'))) return { duplicate: true, leads: 0 };
    const keyword = smsKeyword(sms.body, sms.optOutType);
    if (!keyword) return { duplicate: false, leads: 0 };
    const answered = Boolean(sms.optOutType);
    const { rows } = await client.query<{ id: number; locale: string | null; purposes: string[] | null }>(LEADS_OF_NUMBER, [sms.from]);
    const replies = languageFor(rows.find((r) => r.locale)?.locale).text.sms;
    if (keyword === 'help') return { duplicate: false, keyword, leads: 0, reply: answered ? undefined : (helpText ?? replies.help) };

    const base = { channel: 'sms' as const, source: 'sms-keyword', actor: 'recipient', occurredAt: now, asItHappens: true };
    const evidence = { message_sid: sms.messageSid, keyword: bareKeyword(sms.body) ?? null, opt_out_type: sms.optOutType ?? null };
    const events = rows.flatMap((lead): ConsentEventInput[] =>
      keyword === 'opt-out'
        ? (lead.purposes?.length ? lead.purposes : ['marketing']).map((purpose) => ({
            ...base,
            leadId: lead.id,
            purpose,
            action: 'withdraw',
            evidence,
          }))
        : [{ ...base, leadId: lead.id, purpose: 'marketing', action: 'grant', evidence }],
    );
    const ids = await appendConsentEvents(client, events);
    if (receipts) for (const [i, id] of ids.entries()) await queueReceipt(client, receipts, { ...events[i]!, id }, now);
    const reply = answered ? undefined : keyword === 'opt-out' ? replies.optOut : replies.optIn;
    return { duplicate: false, keyword, leads: rows.length, reply };
  });
}
