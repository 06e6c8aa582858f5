import { DateTime } from 'luxon';
import { durationMs } from '../campaigns/duration.ts';
import { WEEKDAYS, type BusinessHours } from './rules.ts';

/**
 * When a first response is due: `firstResponse` after `start`, counting only business hours when
 * the queue has them (4h received Friday 16:00 with 09:00–17:00 Mon–Fri is due Monday 12:00).
 * Hours are read on the queue's wall clock, so DST changes never shift the opening times.
 */
export function dueAfter(start: Date, firstResponse: string, hours?: BusinessHours): Date {
  let remaining = durationMs(firstResponse);
  if (!hours) return new Date(start.getTime() + remaining);
  const [fromHour, fromMinute] = hours.from.split(':').map(Number) as [number, number];
  const [toHour, toMinute] = hours.to.split(':').map(Number) as [number, number];
  let cursor = DateTime.fromJSDate(start, { zone: hours.timezone });
  // A year of days is more than any service level needs; the bound only guards against a bad config.
  for (let day = 0; day < 400; day++) {
    const opens = cursor.set({ hour: fromHour, minute: fromMinute, second: 0, millisecond: 0 });
    const closes = cursor.set({ hour: toHour, minute: toMinute, second: 0, millisecond: 0 });
    if (hours.days.includes(WEEKDAYS[cursor.weekday - 1]!) && cursor < closes) {
      const from = cursor < opens ? opens : cursor;
      const open = closes.toMillis() - from.toMillis();
      if (remaining <= open) return new Date(from.toMillis() + remaining);
      remaining -= open;
    }
    cursor = cursor.plus({ days: 1 }).startOf('day');
  }
  throw new Error(`no business hours within a year for ${JSON.stringify(hours)}`);
}
