import { EVENT_LIMITS, type EventInput } from '../leads/events.ts';
import { log } from '../log.ts';
import { counter } from '../metrics.ts';
import { addIngestResults, type IngestResult } from './triggers.ts';

// Their ratio is the mean group: requests per transaction (group commit; more under load).
const groups = counter('touchpoint_event_intake_groups_total', 'Transactions event intake took requests in with');
const groupedRequests = counter(
  'touchpoint_event_intake_grouped_requests_total',
  'Event intake requests taken in, counted with their group',
);

/** Takes in events in one transaction, answering each input's share (sequences/triggers.ts `ingestEach`). */
type IngestEach = (inputs: EventInput[]) => Promise<IngestResult[]>;

interface Waiting {
  inputs: EventInput[];
  resolve: (result: IngestResult) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for event intake. Requests that arrive while earlier ones are being taken in wait,
 * and are then taken in together, in one transaction, up to a batch's worth of events: under load
 * one transaction serves many requests instead of each paying its own dozen round trips, and an
 * idle engine takes a lone request in at once. Two groups are taken in side by side (one holds the
 * database while the other is worked on in this process). Each request still gets its
 * own answer, and its events are still recorded once: a group that fails is taken in again request
 * by request, so one request's fault is answered to it alone.
 */
export function intakeGroups(ingestEach: IngestEach) {
  const lanes = 2;
  const maxEvents = EVENT_LIMITS.batch;
  const waiting: Waiting[] = [];
  let busy = 0;

  /** The next group: waiting requests in order of arrival, up to maxEvents events (a larger request goes alone). */
  function nextGroup(): Waiting[] {
    const group = [waiting.shift()!];
    let events = group[0]!.inputs.length;
    while (waiting.length > 0 && events + waiting[0]!.inputs.length <= maxEvents) {
      events += waiting[0]!.inputs.length;
      group.push(waiting.shift()!);
    }
    return group;
  }

  async function takeIn(group: Waiting[]): Promise<void> {
    groups.inc();
    groupedRequests.inc(group.length);
    let shares: IngestResult[];
    try {
      shares = await ingestEach(group.flatMap((w) => w.inputs));
    } catch (err) {
      if (group.length === 1) return group[0]!.reject(err);
      log.warn('a group of event requests failed together; taking them in one by one', { requests: group.length, error: err });
      for (const w of group) await takeIn([w]);
      return;
    }
    let offset = 0;
    for (const w of group) {
      const own = shares.slice(offset, offset + w.inputs.length);
      const result = addIngestResults(...own);
      // Rejections name their event by its index in the request, not in the group.
      result.rejected = result.rejected.map((r) => ({ ...r, index: r.index - offset }));
      offset += w.inputs.length;
      w.resolve(result);
    }
  }

  async function lane(): Promise<void> {
    busy++;
    try {
      while (waiting.length > 0) await takeIn(nextGroup());
    } finally {
      busy--;
    }
  }

  return (inputs: EventInput[]): Promise<IngestResult> =>
    new Promise((resolve, reject) => {
      waiting.push({ inputs, resolve, reject });
      if (busy < lanes) void lane();
    });
}
