/**
 * Glossary of the people side:
 * - lead: a person we may contact, keyed by the marketer's `external_id`.
 * - attribute: any other fact about a lead (numbers and booleans typed), used by filters.
 * - persona: the segment that decides tone, channel and template variant; see personas.ts.
 */
export interface Lead {
  id: number;
  externalId: string;
  email: string | null;
  phone: string | null;
  firstName: string | null;
  lastName: string | null;
  locale: string | null;
  timezone: string | null;
  /** Explicit persona; overrides the persona rules. */
  persona: string | null;
  tags: string[];
  attributes: Record<string, unknown>;
}

/** Lead fields a filter may name directly; any other key is looked up in `attributes`. */
export const LEAD_FIELDS = {
  external_id: 'externalId',
  email: 'email',
  phone: 'phone',
  first_name: 'firstName',
  last_name: 'lastName',
  locale: 'locale',
  timezone: 'timezone',
  persona: 'persona',
} as const satisfies Record<string, keyof Lead>;

export type LeadFields = { -readonly [K in keyof typeof LEAD_FIELDS]: Lead[(typeof LEAD_FIELDS)[K]] };

/** A lead's named fields under the names they have on the wire, in files and in templates. */
export function leadFields(lead: Lead): LeadFields {
  return Object.fromEntries(Object.entries(LEAD_FIELDS).map(([name, field]) => [name, lead[field]])) as LeadFields;
}

/** A person's name as pages show it (first and last), or their external id when no name is known. */
export function leadName(lead: Pick<Lead, 'firstName' | 'lastName' | 'externalId'>): string {
  return [lead.firstName, lead.lastName].filter(Boolean).join(' ') || lead.externalId;
}
