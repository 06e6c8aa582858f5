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

/** What of an event its seal covers, but its lead, subject, place in the chain and recorded_at. */
export interface UnplacedEvent {
  channel: string;
  purpose: string;
  action: string;
  source: string;
  evidence: FlatEvidence;
  actor: string;
  occurredAt: Date;
  noticeVersion: string | null;
  noticeHash: string | null;
}

/** Bytes written one after the other into a buffer that is kept (and grown) for the next batch. */
class Bytes {
  buffer = Buffer.allocUnsafe(1 << 20);
  length = 0;

  write(text: string): void {
    // At most three bytes of UTF-8 per UTF-16 unit.
    this.reserve(text.length * 3);
    this.length += this.buffer.write(text, this.length);
  }

  append(bytes: Buffer): void {
    this.reserve(bytes.length);
    this.length += bytes.copy(this.buffer, this.length);
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(bigger, 0, 0, this.length);
    this.buffer = bigger;
  }

  slice(start: number, end: number): Buffer {
    return this.buffer.subarray(start, end);
  }
}

/**
 * A batch of events on its way into the ledger in bulk (consent/ledger.ts). What of each event's
 * seal and COPY row is known when it is read is written into reused buffers at once (a batch lives
 * across a few awaits, and as strings it would pile up as old garbage); its lead and subject come
 * when they are looked up (`placeLead`), its id, link and recorded_at under the chain lock (`seal`).
 */
export class SealBatch {
  private readonly canonical = new Bytes();
  private readonly copy = new Bytes();
  private readonly sealed = new Bytes();
  /** Per event: where its two canonical and two COPY segments end (the first starts where the one before ends). */
  private ends = new Uint32Array(4 << 10);
  private leadIds: number[] = [];
  channels: string[] = [];
  private purposes: string[] = [];
  private subjects: (string | null)[] = [];

  get size(): number {
    return this.channels.length;
  }

  add(e: UnplacedEvent): void {
    const evidence = evidenceText(e.evidence);
    const occurredAt = sealedTimestamp(e.occurredAt);
    // canonical: lead_id ‹, channel … occurred_at› recorded_at ‹, notice_version, notice_hash› subject_hash
    this.canonical.write(
      `, ${str(e.channel)}, ${str(e.purpose)}, ${str(e.action)}, ${str(e.source)}, ${evidence}, ${str(e.actor)}, "${occurredAt}"`,
    );
    const a = this.canonical.length;
    this.canonical.write(`, ${str(e.noticeVersion)}, ${str(e.noticeHash)}`);
    this.copy.write(`\t${copyField(e.channel)}\t${copyField(e.purpose)}\t${copyField(e.action)}\t${copyField(e.source)}`);
    this.copy.write(`\t${copyField(evidence)}\t${copyField(e.actor)}\t${occurredAt}`);
    const c = this.copy.length;
    this.copy.write(`\t${copyField(e.noticeVersion)}\t${copyField(e.noticeHash)}`);
    const at = this.size * 4;
    if (at + 4 > this.ends.length) {
      const bigger = new Uint32Array(this.ends.length * 2);
      bigger.set(this.ends);
      this.ends = bigger;
    }
    this.ends.set([a, this.canonical.length, c, this.copy.length], at);
    this.channels.push(e.channel);
    this.purposes.push(e.purpose);
  }

  /** The lead of the `i`th event and the subject hash of its address; an event left without one is not appended. */
  placeLead(i: number, leadId: number, subjectHash: string | null): void {
    this.leadIds[i] = leadId;
    this.subjects[i] = subjectHash;
  }

  /** The events with a lead: how many, and their keys (for the state they lead to). */
  placedKeys(): { count: number; leadId: number[]; channel: string[]; purpose: string[] } {
    const keys = { count: 0, leadId: [] as number[], channel: [] as string[], purpose: [] as string[] };
    for (let i = 0; i < this.size; i++) {
      if (this.leadIds[i] === undefined) continue;
      keys.count++;
      keys.leadId.push(this.leadIds[i]!);
      keys.channel.push(this.channels[i]!);
      keys.purpose.push(this.purposes[i]!);
    }
    return keys;
  }

  /**
   * The events with a lead, placed in the chain from `firstId` after `prevHash`: each sealed as
   * consent_event_digest seals consent_event_canonical's text (the event as a JSON array, as
   * jsonb_build_array(…)::text writes it; SHA-256, hex), as COPY rows (the ledger's COPY_SEALED),
   * valid until the batch is cleared.
   */
  seal(firstId: number, recordedAt: string, prevHash: string): Buffer {
    this.sealed.length = 0;
    let id = firstId;
    let prev = prevHash;
    for (let i = 0, canonicalStart = 0, copyStart = 0; i < this.size; i++) {
      const [a, canonicalEnd, c, copyEnd] = [this.ends[i * 4]!, this.ends[i * 4 + 1]!, this.ends[i * 4 + 2]!, this.ends[i * 4 + 3]!];
      const leadId = this.leadIds[i];
      if (leadId !== undefined) {
        const subject = this.subjects[i]!;
        const hash = crypto
          .createHash('sha256')
          .update(`[${id}, ${leadId}`)
          .update(this.canonical.slice(canonicalStart, a))
          .update(`, "${recordedAt}"`)
          .update(this.canonical.slice(a, canonicalEnd))
          .update(`, ${str(subject)}, ${str(prev)}]`)
          .digest('hex');
        this.sealed.write(`${id}\t${leadId}`);
        this.sealed.append(this.copy.slice(copyStart, c));
        this.sealed.write(`\t${recordedAt}`);
        this.sealed.append(this.copy.slice(c, copyEnd));
        this.sealed.write(`\t${copyField(subject)}\t${prev}\t${hash}\n`);
        prev = hash;
        id++;
      }
      canonicalStart = canonicalEnd;
      copyStart = copyEnd;
    }
    return this.sealed.slice(0, this.sealed.length);
  }

  clear(): void {
    this.canonical.length = 0;
    this.copy.length = 0;
    this.leadIds = [];
    this.channels = [];
    this.purposes = [];
    this.subjects = [];
  }
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
