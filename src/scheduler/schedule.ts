import { CronExpressionParser } from 'cron-parser';
import { DateTime } from 'luxon';
import type { Campaign } from '../campaigns/types.ts';

/** A campaign's timezone for `schedule.at` and `cron`; UTC when the file names none. */
export function scheduleZone(campaign: Campaign): string {
  return campaign.schedule?.timezone ?? 'UTC';
}

/** The instant `schedule.at` means, read in the campaign's timezone. */
export function atInstant(campaign: Campaign): Date | undefined {
  const at = campaign.schedule?.at;
  if (!at) return undefined;
  return DateTime.fromISO(at, { zone: scheduleZone(campaign) }).toJSDate();
}

/**
 * The occurrence a scheduled run belongs to. For `at` it is the instant itself; for `cron` the
 * latest firing at or before `now`, so a late or repeated job lands on the same occurrence and
 * sends nothing twice.
 */
export function scheduledOccurrence(campaign: Campaign, now: Date): string | undefined {
  const at = atInstant(campaign);
  if (at) return `at:${at.toISOString()}`;
  const cron = campaign.schedule?.cron;
  if (!cron) return undefined;
  const expression = CronExpressionParser.parse(cron, { currentDate: new Date(now.getTime() + 1000), tz: scheduleZone(campaign) });
  return `cron:${expression.prev().toDate().toISOString()}`;
}
