import crypto from 'node:crypto';
import { copyField } from '../db/copy.ts';

/**
 * The ledger's seal computed here instead of in the insert trigger, for bulk appends: a batch is
 * sealed in this process under the chain lock and sent by COPY, since sealing each event in SQL
 * costs as much as the rest of an import. It must be byte for byte what migration 0008's
 * `consent_event_digest` computes (test/consent/import.test.ts holds the two together: its events verify), so that
 * `consent verify` and proofs read both kinds of event alike.
 */

/** Evidence of a bulk-written event: flat, strings and integers, which is all an import records. */
export type FlatEvidence = Record<string, string | number>;

/** What of an event its seal covers, but its place in the chain (id, link) and recorded_at. */
export interface SealableEvent {
  leadId: number;
  channel: string;
  purpose: string;
  action: string;
  source: string;
  evidence: FlatEvidence;
  actor: string;
  occurredAt: Date;
  noticeVersion: string | null;
  noticeHash: string | null;
  subjectHash: string | null;
}

/**
 * An event's canonical text and COPY row without what only the chain lock decides (id, link, and
 * recorded_at: the transaction's), made before the lock is taken. `placed` completes both.
 */
export interface UnplacedEvent {
  /** The canonical array from lead_id to occurred_at, and from notice_version to subject_hash. */
  canonical: [string, string];
  /** The COPY fields lead_id … occurred_at, and notice_version … subject_hash (see ledger's COPY_SEALED). */
  copy: [string, string];
}

/**
 * An instant as `to_char(… AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')` writes it, for a
 * Date (millisecond precision, so the microseconds end in 000). Also what the event is stored as.
 */
function sealedTimestamp(date: Date): string {
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
function evidenceText(evidence: FlatEvidence): string {
  const fields = Object.keys(evidence)
    .sort(jsonbKeyOrder)
    .map((key) => {
      const value = evidence[key]!;
      if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new Error(`evidence ${key}: only integers are sealed here`);
      return `${str(key)}: ${typeof value === 'number' ? String(value) : str(value)}`;
    });
  return `{${fields.join(', ')}}`;
}

export function unplaced(e: SealableEvent): UnplacedEvent {
  const evidence = evidenceText(e.evidence);
  const occurredAt = sealedTimestamp(e.occurredAt);
  return {
    canonical: [
      `${e.leadId}, ${str(e.channel)}, ${str(e.purpose)}, ${str(e.action)}, ${str(e.source)}, ${evidence}, ${str(e.actor)}, "${occurredAt}"`,
      `${str(e.noticeVersion)}, ${str(e.noticeHash)}, ${str(e.subjectHash)}`,
    ],
    copy: [
      [e.leadId, e.channel, e.purpose, e.action, e.source, evidence, e.actor, occurredAt].map(copyField).join('\t'),
      [e.noticeVersion, e.noticeHash, e.subjectHash].map(copyField).join('\t'),
    ],
  };
}

/**
 * The event placed in the chain: consent_event_canonical's text (the event as a JSON array, as
 * jsonb_build_array(…)::text writes it), sealed as consent_event_digest does (SHA-256, hex), and
 * its COPY row.
 */
export function placed(e: UnplacedEvent, id: number, recordedAt: string, prevHash: string): { hash: string; row: string } {
  const canonical = `[${id}, ${e.canonical[0]}, "${recordedAt}", ${e.canonical[1]}, ${str(prevHash)}]`;
  const hash = crypto.createHash('sha256').update(canonical).digest('hex');
  return { hash, row: `${id}\t${e.copy[0]}\t${recordedAt}\t${e.copy[1]}\t${prevHash}\t${hash}\n` };
}
