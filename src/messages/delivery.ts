import type pg from 'pg';
import type { Channel } from '../channels/channel.ts';
import { appendConsentEvents } from '../consent/ledger.ts';
import { statement } from '../db/statement.ts';
import { withTransaction } from '../db/tx.ts';

/** Twilio's error for a recipient who replied STOP to this sender: their SMS consent is gone. */
export const TWILIO_UNSUBSCRIBED = '21610';

const RECORD_STATUS = statement(
  'messages.record-delivery-status',
  `UPDATE messages SET delivery_status = $2, delivery_error = $3 WHERE provider_id = $1
   RETURNING lead_id, channel, purpose`,
);

/**
 * Records what a provider reported about a sent message. Twilio's 21610 also withdraws the
 * recipient's SMS consent for the message's purpose, in the same transaction.
 */
export async function recordDeliveryStatus(
  pool: pg.Pool,
  report: { providerId: string; status: string; errorCode?: string },
  now: Date,
): Promise<boolean> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ lead_id: number; channel: Channel; purpose: string }>(RECORD_STATUS, [
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
    },
  ]);
}
