import { LEAD_FIELDS, type Lead } from './types.ts';

/**
 * The filter language shared by `audience.where`, persona `match` and (later) triggers:
 * equality, `{in: [...]}`, `{gt|gte|lt|lte: n}` and `{exists: bool}`; every key must hold.
 */
export type Scalar = string | number | boolean | null;
export type Condition = Scalar | { in: Scalar[] } | { exists: boolean } | { gt?: number; gte?: number; lt?: number; lte?: number };
export type Filter = Record<string, Condition>;

export function leadValue(lead: Lead, key: string): unknown {
  const field = LEAD_FIELDS[key as keyof typeof LEAD_FIELDS];
  return field ? lead[field] : lead.attributes[key];
}

export function matchesCondition(value: unknown, condition: Condition): boolean {
  if (condition === null || typeof condition !== 'object') return value === condition;
  if ('in' in condition) return condition.in.some((c) => c === value);
  if ('exists' in condition) return (value !== undefined && value !== null) === condition.exists;
  if (typeof value !== 'number') return false;
  const { gt, gte, lt, lte } = condition;
  return (
    (gt === undefined || value > gt) &&
    (gte === undefined || value >= gte) &&
    (lt === undefined || value < lt) &&
    (lte === undefined || value <= lte)
  );
}

export function matchesFilter(filter: Filter, valueOf: (key: string) => unknown): boolean {
  return Object.entries(filter).every(([key, condition]) => matchesCondition(valueOf(key), condition));
}

export function leadMatches(lead: Lead, filter: Filter): boolean {
  return matchesFilter(filter, (key) => leadValue(lead, key));
}
