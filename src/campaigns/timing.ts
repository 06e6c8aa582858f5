import { DateTime } from 'luxon';

export interface SendWindow {
  from: string;
  to: string;
}

function at(day: DateTime, hhmm: string): DateTime {
  const [hour, minute] = hhmm.split(':').map(Number);
  // On a day whose clock skips this time (DST gap), luxon moves forward to the next valid instant.
  return day.set({ hour, minute, second: 0, millisecond: 0 });
}

/**
 * The first instant at or after `due` that lies inside the window, in the recipient's own
 * timezone. Windows may span midnight (`20:00`–`08:00`). Computed on local wall-clock times, so a
 * DST change never shifts a 09:00 opening to 08:00 or 10:00.
 */
export function nextWindowOpening(due: Date, window: SendWindow, zone: string): Date {
  const local = DateTime.fromJSDate(due, { zone });
  const open = at(local, window.from);
  const close = at(local, window.to);
  if (open < close) {
    if (local < open) return open.toJSDate();
    if (local < close) return due;
    return at(local.plus({ days: 1 }), window.from).toJSDate();
  }
  // Overnight window: open from `from` until midnight, and from midnight until `to`.
  if (local >= open || local < close) return due;
  return open.toJSDate();
}

/** The recipient's wall-clock time of an instant, as ISO 8601 with its offset (for plans). */
export function localTime(instant: Date, zone: string): string {
  return DateTime.fromJSDate(instant, { zone }).toISO({ suppressMilliseconds: true })!;
}
