import { statement, type Queryable } from '../db/statement.ts';

export interface ChainReport {
  /** Events checked, in chain (id) order. */
  checked: number;
  /** The first event that does not verify, and why; absent when the whole chain holds. */
  broken?: { id: number; reason: string };
  /** The last event and its seal: write it down elsewhere, and a later verify can prove the chain up to it unchanged. */
  head?: { id: number; hash: string };
}

/** An event and the seal someone recorded for it outside the database (`<id>:<hash>`). */
export interface Anchor {
  id: number;
  hash: string;
}

const BATCH = 5_000;
const ALTERED = 'its content does not match its seal (it was altered)';
const UNLINKED = 'its link does not match the event before it (an event was removed or reordered)';

/**
 * Recomputes the ledger's hash chain from the first event: each event's seal must match its
 * content (an edit shows there) and its link must name the seal of the event before it (a removed
 * or reordered event shows there). Reads in id-ordered batches, so memory stays flat.
 */
const COUNT = statement('consent.count-events', `SELECT count(*)::int AS n FROM consent_events`);
const CHAIN_PAGE = statement(
  'consent.chain-page',
  `SELECT e.id, e.hash, e.prev_hash, consent_event_digest(e) AS expected
     FROM consent_events e WHERE e.id > $1 ORDER BY e.id LIMIT $2`,
);
const LEAD_EVENTS_IN_CHAIN = statement(
  'consent.lead-events-in-chain',
  `SELECT e.id, e.hash = consent_event_digest(e) AS sealed,
          e.prev_hash = coalesce((SELECT p.hash FROM consent_events p WHERE p.id < e.id ORDER BY p.id DESC LIMIT 1), '') AS linked
     FROM consent_events e WHERE e.lead_id = $1 ORDER BY e.id`,
);

export async function verifyLedger(
  db: Queryable,
  onProgress?: (checked: number, total: number) => void,
  anchors: Anchor[] = [],
): Promise<ChainReport> {
  const { rows: count } = await db.query<{ n: number }>(COUNT);
  const total = count[0]!.n;
  let previous = '';
  let after = 0;
  let checked = 0;
  let head: ChainReport['head'];
  const anchored = new Map(anchors.map((a) => [a.id, a.hash]));
  for (;;) {
    const { rows } = await db.query<{ id: number; hash: string | null; prev_hash: string | null; expected: string }>(CHAIN_PAGE, [
      after,
      BATCH,
    ]);
    for (const { id, ...row } of rows) {
      if (row.prev_hash !== previous) {
        return {
          checked,
          broken: { id, reason: previous === '' && checked === 0 ? 'the first event does not start the chain' : UNLINKED },
        };
      }
      if (row.hash !== row.expected) return { checked, broken: { id, reason: ALTERED } };
      // A chain recomputed after an edit verifies in itself, but no longer matches seals recorded elsewhere.
      if (anchored.has(id) && anchored.get(id) !== row.hash)
        return { checked, broken: { id, reason: 'its seal differs from the one recorded outside the database (the chain was rewritten)' } };
      anchored.delete(id);
      previous = row.hash;
      head = { id, hash: row.hash };
      checked++;
    }
    onProgress?.(checked, total);
    if (rows.length < BATCH) {
      const [missing] = anchored.keys();
      if (missing !== undefined) return { checked, head, broken: { id: missing, reason: 'an event with a recorded seal is gone' } };
      return head ? { checked, head } : { checked };
    }
    after = rows[rows.length - 1]!.id;
  }
}

/**
 * One person's events checked where they stand in the chain: each seal against its content, each
 * link against the event just before it. Costs as much as they have events, however long the
 * ledger is, so proofs and audit pages can include it; the whole chain is `verifyLedger`'s work.
 */
export async function verifyLeadEvents(db: Queryable, leadId: number): Promise<ChainReport> {
  const { rows } = await db.query<{ id: number; sealed: boolean; linked: boolean }>(LEAD_EVENTS_IN_CHAIN, [leadId]);
  let checked = 0;
  for (const row of rows) {
    if (!row.linked) return { checked, broken: { id: row.id, reason: UNLINKED } };
    if (!row.sealed) return { checked, broken: { id: row.id, reason: ALTERED } };
    checked++;
  }
  return { checked };
}
