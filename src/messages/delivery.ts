import type pg from 'pg';
import { appendConsentEvents } from '../consent/ledger.ts';
import { statement } from '../db/statement.ts';
import { withTransaction } from '../db/tx.ts';
import { firstReceipt } from '../inbound/receipts.ts';

/** Twilio's error for a recipient who replied STOP to this sender: their SMS consent is gone. */
export const TWILIO_UNSUBSCRIBED = '21610';

// Twilio reports on SMS only: a provider id of an email (or of nothing we sent) changes nothing.
const RECORD_STATUS = statement(
  'messages.record-delivery-status',
  `UPDATE messages SET delivery_status = $2, delivery_error = $3 WHERE provider_id = $1 AND channel = 'sms'
   RETURNING lead_id, purpose`,
);

/**
 * Records what Twilio reported about an SMS we sent, once per message and status: a retried or
 * replayed callback changes nothing the second time (a receipt, in the same transaction). Twilio's
 * 21610 also withdraws the SMS consent of that message's lead for that message's purpose.
 */
export async function recordDeliveryStatus(
  pool: pg.Pool,
  report: { providerId: string; status: string; errorCode?: string },
  now: Date,
): Promise<boolean> {
  return withTransaction(pool, async (client) => {
    if (!(await firstReceipt(client, 'twilio', `status:${report.providerId}:${report.status}`, 'sms-status'))) return false;
    const { rows } = await client.query<{ lead_id: number; purpose: string }>(RECORD_STATUS, [
      report.providerId,
      report.status,
      report.errorCode ?? null,
    ]);
    const message = rows[0];
    if (!message) return false;
    if (report.errorCode === TWILIO_UNSUBSCRIBED) {
      await withdrawUnsubscribed(client, message.lead_id, message.purpose, report.providerId, now);
    }
    return true;
  });
}

/** The provider says the person unsubscribed from SMS (21610): withdraw in the ledger. */
export async function withdrawUnsubscribed(
  client: pg.PoolClient,
  leadId: number,
  purpose: string,
  providerId: string,
  now: Date,
): Promise<void> {
  await appendConsentEvents(client, [
    {
      leadId,
      channel: 'sms',
      purpose,
      action: 'withdraw',
      source: 'provider-21610',
      evidence: { provider_id: providerId, error: TWILIO_UNSUBSCRIBED },
      actor: 'twilio',
      occurredAt: now,
      asItHappens: true,
    },
  ]);
}
