import { statement, type Queryable } from '../db/statement.ts';

const RECEIPT = statement(
  'inbound.webhook-receipt',
  `INSERT INTO webhook_receipts (provider, delivery_id, kind) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
);

/**
 * Notes a provider's webhook delivery by its id; false when it was noted before (the provider
 * retrying, or someone replaying a signed request), and then the caller changes nothing. Run it in
 * the transaction that acts on the delivery, so a failure leaves it to be handled again.
 */
export async function firstReceipt(db: Queryable, provider: string, deliveryId: string, kind: string): Promise<boolean> {
  const { rowCount } = await db.query(RECEIPT, [provider, deliveryId, kind]);
  return rowCount === 1;
}
