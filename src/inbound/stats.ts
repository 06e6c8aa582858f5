import { statement, type Queryable } from '../db/statement.ts';

export interface ReplyCounts {
  /** Replies written by people, by category. */
  human: number;
  byCategory: Record<string, number>;
  /** Out-of-office answers and bounces. */
  automatic: number;
}

const COUNTS = statement(
  'inbound.reply-counts',
  `SELECT c.kind, c.category, count(*)::int AS n
     FROM inbound_contacts c JOIN messages m ON m.id = c.message_id
    WHERE c.campaign_id = $1 AND m.campaign_id = $1 AND m.occurrence = $2
    GROUP BY 1, 2`,
);

/**
 * What came back from one occurrence of a campaign: how marketers learn from replies without
 * reading them (counts only; bodies stay with the service team). A reply carries its message's
 * campaign, so this reads the campaign's replies (inbound_contacts_campaign_idx), not its messages.
 */
export async function replyCounts(db: Queryable, campaignId: string, occurrence: string): Promise<ReplyCounts> {
  const { rows } = await db.query<{ kind: string; category: string; n: number }>(COUNTS, [campaignId, occurrence]);
  const counts: ReplyCounts = { human: 0, byCategory: {}, automatic: 0 };
  for (const row of rows) {
    if (row.kind !== 'human') counts.automatic += row.n;
    else {
      counts.human += row.n;
      counts.byCategory[row.category] = (counts.byCategory[row.category] ?? 0) + row.n;
    }
  }
  return counts;
}
