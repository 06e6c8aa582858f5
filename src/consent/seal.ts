import crypto from 'node:crypto';

/**
 * The ledger's seal computed here instead of in the insert trigger, for bulk appends: a batch is
 * sealed in this process under the chain lock and sent by COPY, since sealing each event in SQL
 * costs as much as the rest of an import. It must be byte for byte what migration 0008's
 * `consent_event_digest` computes (test/consent/seal.test.ts holds the two together), so that
 * `consent verify` and proofs read both kinds of event alike.
 */

/** Evidence of a bulk-written event: flat, strings and integers, which is all an import records. */
export type FlatEvidence = Record<string, string | number>;

export interface SealableEvent {
  id: number;
  leadId: number;
  channel: string;
  purpose: string;
  action: string;
  source: string;
  evidence: FlatEvidence;
  actor: string;
  /** As `SealedTimestamp` makes them. */
  occurredAt: string;
  recordedAt: string;
  noticeVersion: string | null;
  noticeHash: string | null;
  subjectHash: string | null;
  prevHash: string;
}

/**
 * An instant as `to_char(… AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')` writes it, for a
 * Date (millisecond precision, so the microseconds end in 000). Also what the event is stored as.
 */
export function sealedTimestamp(date: Date): string {
  return `${date.toISOString().slice(0, 23)}000Z`;
}

/**
 * A JSON string as PostgreSQL's jsonb output writes it. JSON.stringify escapes the same
 * characters (quote, backslash, control characters, lowercase \u00xx) and leaves the rest as is.
 */
const str = (value: string | null): string => (value === null ? 'null' : JSON.stringify(value));

/**
 * jsonb's order of object keys: shorter (in bytes) first, then by their bytes, which for UTF-8 is
 * the order of code points (and of UTF-16 units, outside the surrogates no evidence key holds).
 */
function jsonbKeyOrder(a: string, b: string): number {
  return Buffer.byteLength(a) - Buffer.byteLength(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Flat evidence as jsonb's text output writes it: keys in jsonb's order, `": "` and `", "` between. */
export function evidenceText(evidence: FlatEvidence): string {
  const fields = Object.keys(evidence)
    .sort(jsonbKeyOrder)
    .map((key) => {
      const value = evidence[key]!;
      if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new Error(`evidence ${key}: only integers are sealed here`);
      return `${str(key)}: ${typeof value === 'number' ? String(value) : str(value)}`;
    });
  return `{${fields.join(', ')}}`;
}

/** consent_event_canonical: the event as a JSON array, as jsonb_build_array(…)::text writes it. */
export function canonicalEvent(e: SealableEvent, evidence = evidenceText(e.evidence)): string {
  return `[${e.id}, ${e.leadId}, ${str(e.channel)}, ${str(e.purpose)}, ${str(e.action)}, ${str(e.source)}, ${evidence}, ${str(e.actor)}, "${e.occurredAt}", "${e.recordedAt}", ${str(e.noticeVersion)}, ${str(e.noticeHash)}, ${str(e.subjectHash)}, ${str(e.prevHash)}]`;
}

/** consent_event_digest: SHA-256 of the canonical text, in hex. */
export function sealOf(canonical: string): string {
  return crypto.createHash('sha256').update(canonical).digest('hex');
}
