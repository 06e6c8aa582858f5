import type { Channel } from '../channels/channel.ts';
import type { Filter } from '../leads/filter.ts';

/**
 * Glossary of the campaign side:
 * - campaign: one YAML file under `campaigns/`; `kind: lead` (a known audience on a schedule) or
 *   `kind: event` (a customer's action starts a sequence).
 * - step: one message of a campaign's sequence, on a channel, with a template.
 * - run: one execution of a lead campaign for one occurrence.
 * - occurrence: what makes a run's messages unique: `once` for a one-shot campaign (no schedule or
 *   `schedule.at`), the firing instant for a `cron` one, or a label named deliberately
 *   (`--occurrence`); running the same occurrence again sends nothing twice.
 * - campaign set: everything under `campaigns/`, loaded and checked (see set.ts).
 */
export type StepChannel = Channel | 'preferred';

export interface Step {
  id: string;
  channel: StepChannel;
  template: string;
  /** Duration after the previous step (`30s`, `15m`, `2h`, `3d`, `1w`). */
  wait?: string;
  unless?: ('replied' | 'goal' | 'opened')[];
}

export interface Campaign {
  id: string;
  name: string;
  kind: 'lead' | 'event';
  purpose: string;
  audience?: { personas?: string[]; tags?: string[]; where?: Filter };
  schedule?: { at?: string; cron?: string; timezone?: string };
  send_window?: { from: string; to: string };
  frequency_cap?: { max: number; per: string; on_cap?: 'defer' | 'skip' };
  reply_queue?: string;
  /** The event that counts as a conversion when it follows a message within `within` (default 7d). */
  goal?: { event: string; within?: string };
  trigger?: { event: string; where?: Filter };
  reentry?: 'never' | 'always' | { after: string };
  exit_on?: string[];
  steps: Step[];
  /** Absolute path of the file the campaign came from. */
  file: string;
}
