import { statement, type Queryable } from '../db/statement.ts';

/**
 * Repeat rate: of the contacts people opened, how many were repeat contacts (the same person and
 * category within 14 days of an earlier one, see thread.ts), a sign that the first answer did not
 * settle the matter. Contacts are human replies that opened a contact; later messages joined to
 * a contact are no contacts of their own, and opt-outs are no matter.
 */

export interface RepeatFigure {
  contacts: number;
  repeats: number;
  /** repeats / contacts, rounded to three places; null without contacts. */
  rate: number | null;
}

export interface RepeatReport {
  from: Date;
  to: Date;
  by_queue: ({ queue: string } & RepeatFigure)[];
  by_campaign: ({ campaign: string } & RepeatFigure)[];
}

const COUNTED = `c.kind = 'human' AND c.category <> 'opt-out'`;

const BY_QUEUE_AND_CAMPAIGN = statement(
  'inbound.repeat-rates',
  `SELECT grouping(c.queue) = 0 AS per_queue, coalesce(c.queue, '') AS queue, c.campaign_id AS campaign,
          count(*)::int AS contacts, count(c.repeat_of)::int AS repeats
     FROM inbound_contacts c
    WHERE ${COUNTED} AND c.received_at >= $1 AND c.received_at < $2
    GROUP BY GROUPING SETS ((c.queue), (c.campaign_id))
   HAVING grouping(c.queue) = 0 OR c.campaign_id IS NOT NULL
    ORDER BY 2, 3`,
);
const OF_CAMPAIGN = statement(
  'inbound.campaign-repeat-rate',
  `SELECT count(*)::int AS contacts, count(c.repeat_of)::int AS repeats
     FROM inbound_contacts c JOIN messages m ON m.id = c.message_id
    WHERE ${COUNTED} AND c.campaign_id = $1 AND m.campaign_id = $1 AND ($2::text IS NULL OR m.occurrence = $2)`,
);

const figure = (contacts: number, repeats: number): RepeatFigure => ({
  contacts,
  repeats,
  rate: contacts ? Math.round((repeats / contacts) * 1000) / 1000 : null,
});

/** Repeat counts and rates per queue and per campaign, of the contacts received in [from, to). */
export async function repeatRates(db: Queryable, period: { from: Date; to: Date }): Promise<RepeatReport> {
  const { rows } = await db.query<{ per_queue: boolean; queue: string; campaign: string; contacts: number; repeats: number }>(
    BY_QUEUE_AND_CAMPAIGN,
    [period.from, period.to],
  );
  return {
    ...period,
    by_queue: rows.filter((r) => r.per_queue).map((r) => ({ queue: r.queue, ...figure(r.contacts, r.repeats) })),
    by_campaign: rows.filter((r) => !r.per_queue).map((r) => ({ campaign: r.campaign, ...figure(r.contacts, r.repeats) })),
  };
}

/** The repeat rate of the contacts that answer a campaign's messages (of one occurrence, or all). */
export async function campaignRepeatRate(db: Queryable, campaignId: string, occurrence: string | null): Promise<RepeatFigure> {
  const { rows } = await db.query<{ contacts: number; repeats: number }>(OF_CAMPAIGN, [campaignId, occurrence]);
  return figure(rows[0]!.contacts, rows[0]!.repeats);
}
