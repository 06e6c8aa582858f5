/**
 * The events inbound contacts emit into the customers' event stream, each with its properties:
 * what `validate` checks a campaign's `trigger`, `goal`, `exit_on` and `where` against. `contact`
 * is the contact's id in every one (what the survey link and a digit reply answer).
 */
export const CONTACT_EVENTS = {
  contact_received: ['contact', 'category', 'priority', 'campaign', 'step', 'queue', 'channel', 'sentiment'],
  contact_closed: ['contact', 'queue', 'category', 'resolution', 'handled_by', 'first_response_minutes'],
  sales_opportunity: ['contact', 'note', 'product', 'queue', 'handled_by'],
  csat_answered: ['contact', 'score'],
} as const satisfies Record<string, readonly string[]>;

export type ContactEventName = keyof typeof CONTACT_EVENTS;

/** Event names that look like ours (a misspelt `contact_close`); customers' own events use other names. */
export const CONTACT_EVENT_PREFIXES = ['contact_', 'csat_', 'sales_'];
