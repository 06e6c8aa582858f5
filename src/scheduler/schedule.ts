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

/** The one occurrence of a one-shot campaign (no schedule, or `schedule.at`), however it is started. */
export const ONE_SHOT_OCCURRENCE = 'once';

/**
 * The occurrence a run belongs to unless the user names one. A one-shot campaign has a single
 * occurrence, so a run by hand, by the API and by its schedule send each step to each lead once.
 * A `cron` campaign has one per firing: the latest at or before `now`, so a late or repeated job,
 * or a run by hand after it, lands on the same occurrence and sends nothing twice.
 */
export function defaultOccurrence(campaign: Campaign, now: Date): string {
  const cron = campaign.schedule?.cron;
  if (!cron) return ONE_SHOT_OCCURRENCE;
  const expression = CronExpressionParser.parse(cron, { currentDate: new Date(now.getTime() + 1000), tz: scheduleZone(campaign) });
  return `cron:${expression.prev().toDate().toISOString()}`;
}

/** The occurrence a scheduled run belongs to; undefined when the campaign has no schedule (any more). */
export function scheduledOccurrence(campaign: Campaign, now: Date): string | undefined {
  return campaign.schedule?.at || campaign.schedule?.cron ? defaultOccurrence(campaign, now) : undefined;
}

/**
 * When a run planned now would record its first step: the `schedule.at` instant when that is still
 * ahead, else now.
 */
export function planStart(campaign: Campaign, now: Date): Date {
  const at = atInstant(campaign);
  return at && at.getTime() > now.getTime() ? at : now;
}
