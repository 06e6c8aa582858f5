import { durationMs } from './duration.ts';
import { nextWindowOpening } from './timing.ts';
import type { Channel } from '../channels/channel.ts';
import type { Lead } from '../leads/types.ts';
import type { Campaign } from './types.ts';

/**
 * When a message may go: the send-time policy that runs, sequence steps and plans share. A step's
 * due instant is moved into the recipient's send window (and, for marketing SMS, the quiet hours),
 * then past the frequency cap.
 */
export interface FrequencyCap {
  max: number;
  per: string;
  /** Over the cap, wait for room (default) or skip the message. */
  on_cap?: 'defer' | 'skip';
}

/** Marketing SMS go out only between these local hours, whatever a campaign's window says. */
export const SMS_QUIET_HOURS = { from: '08:00', to: '21:00' } as const;

/** The zone a lead's send window is read in: theirs, else the campaign's, else UTC. */
export function recipientZone(lead: Lead, campaign: Campaign): string {
  return lead.timezone ?? campaign.schedule?.timezone ?? 'UTC';
}

/**
 * When a step would go: its due instant, moved into the recipient's send window (and, for
 * marketing SMS, the 08:00–21:00 day), then past the frequency cap (or undefined when the cap
 * says skip). `capTimes` are the lead's counted message times, sorted.
 */
export function sendTime(campaign: Campaign, lead: Lead, due: Date, capTimes: number[], channel: Channel): Date | undefined {
  const zone = recipientZone(lead, campaign);
  const windows = [
    ...(campaign.send_window ? [campaign.send_window] : []),
    ...(channel === 'sms' && campaign.purpose === 'marketing' ? [SMS_QUIET_HOURS] : []),
  ];
  // The first instant inside every window: move into each in turn until none moves it further.
  const adjust = (t: Date) => {
    for (let round = 0; round < 4; round++) {
      const moved = windows.reduce((at, w) => nextWindowOpening(at, w, zone), t);
      if (moved.getTime() === t.getTime()) return t;
      t = moved;
    }
    return t;
  };
  return campaign.frequency_cap ? capSendTime(campaign.frequency_cap, capTimes, due, adjust) : adjust(due);
}

/**
 * When a message wanted at `wanted` may go under the cap, given the lead's counted message times
 * (sorted); `adjust` moves a candidate into the send window. Undefined means skip.
 */
export function capSendTime(cap: FrequencyCap, times: number[], wanted: Date, adjust: (t: Date) => Date): Date | undefined {
  const per = durationMs(cap.per);
  let candidate = adjust(wanted);
  for (let round = 0; round < 10; round++) {
    const t = candidate.getTime();
    const inWindow = times.filter((x) => x > t - per && x <= t);
    if (inWindow.length < cap.max) return candidate;
    if (cap.on_cap === 'skip') return undefined;
    // Room opens when enough of the oldest messages in the window have aged out of it.
    candidate = adjust(new Date(inWindow[inWindow.length - cap.max]! + per));
  }
  return candidate;
}
