import type pg from 'pg';

/**
 * Subscribes a dedicated connection to a notification channel (LISTEN); notifications arrive as
 * the client's `notification` events. Channels are raised by triggers in the migrations.
 */
export async function listen(client: pg.Client, channel: string): Promise<void> {
  await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
}
