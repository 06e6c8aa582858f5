import { pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * Webhook deliveries already handled, by the provider's id for them (Twilio's MessageSid): a
 * provider retrying or an attacker replaying a signed request changes nothing the second time.
 */
export const webhookReceipts = pgTable(
  'webhook_receipts',
  {
    provider: text('provider').notNull(),
    deliveryId: text('delivery_id').notNull(),
    kind: text('kind').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.provider, t.deliveryId] })],
);
