import { CONTACT_EVENT_PREFIXES, CONTACT_EVENTS } from '../inbound/event-names.ts';
import { EVENT_NAME } from '../leads/events.ts';
import { segmentEventName } from '../leads/segment.ts';
import { LEAD_FIELDS } from '../leads/types.ts';
import type { YamlFile, YamlPath } from '../yaml/positions.ts';
import type { Problem } from '../yaml/problems.ts';

const KNOWN = Object.keys(CONTACT_EVENTS).join(', ');

/**
 * The events Touchpoint itself emits for inbound contacts (inbound/event-names.ts). A name that
 * looks like one but is none (`contact_close`) is an error: nothing would ever start, end or
 * convert the campaign. A `trigger.where` key that such an event does not carry is a warning: the
 * condition then reads the lead's field or attribute of that name, which is rarely what was meant.
 * Runs on the raw document, like the other reference checks.
 */
export function checkContactEvents(yaml: YamlFile, problems: Problem[]): void {
  const data = yaml.data as { trigger?: { event?: unknown; where?: unknown } };
  for (const [at, name] of eventNames(yaml)) {
    if (typeof name !== 'string' || name in CONTACT_EVENTS || !CONTACT_EVENT_PREFIXES.some((p) => name.startsWith(p))) continue;
    problems.push(yaml.problem(at, `'${name}' is not an event Touchpoint emits; contact events are: ${KNOWN}`, 'value'));
  }
  const event = data.trigger?.event;
  const where = data.trigger?.where;
  if (typeof event !== 'string' || !(event in CONTACT_EVENTS) || typeof where !== 'object' || where === null) return;
  const properties: readonly string[] = CONTACT_EVENTS[event as keyof typeof CONTACT_EVENTS];
  for (const key of Object.keys(where)) {
    if (properties.includes(key) || key in LEAD_FIELDS) continue;
    problems.push(
      yaml.problem(
        ['trigger', 'where', key],
        `${event} has no property '${key}' (it has: ${properties.join(', ')}); this condition reads the lead's attribute '${key}' instead`,
        'key',
        'warning',
      ),
    );
  }
}

/** Every event name a campaign file refers to, where it stands. */
function eventNames(yaml: YamlFile): [YamlPath, unknown][] {
  const data = yaml.data as { trigger?: { event?: unknown }; goal?: { event?: unknown }; exit_on?: unknown };
  return [
    [['trigger', 'event'], data.trigger?.event],
    [['goal', 'event'], data.goal?.event],
    ...(Array.isArray(data.exit_on) ? data.exit_on.map((name, i): [YamlPath, unknown] => [['exit_on', i], name]) : []),
  ];
}

/**
 * Event names are recorded only in our form (leads/events.ts EVENT_NAME), so a name in any other
 * form can never start, end or convert the campaign. Segment sends `Item Purchased`, which
 * arrives as `item_purchased` (leads/segment.ts): the error names the form to write.
 */
export function checkEventNames(yaml: YamlFile, problems: Problem[]): void {
  for (const [at, name] of eventNames(yaml)) {
    if (typeof name !== 'string' || EVENT_NAME.test(name)) continue;
    const ours = segmentEventName(name);
    const hint = ours ? `; a Segment event '${name}' arrives as '${ours}'` : '';
    problems.push(yaml.problem(at, `'${name}' can never arrive: event names are lowercase (letters, digits, _ . -)${hint}`, 'value'));
  }
}
