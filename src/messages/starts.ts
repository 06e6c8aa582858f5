import type pg from 'pg';
import type { Clock } from '../clock.ts';
import { beginTransaction, type OpenTransaction } from '../db/tx.ts';
import { recordSent, startSends, type Accepted, type Start } from './attempt.ts';

/** A send's start, held by its group's transaction until it is confirmed. */
export interface Begun {
  at: Date;
  start: Start;
  /**
   * Says the send of a `go` has begun (its provider took the envelope), then resolves once the
   * group's transaction committed: only then may the message be completed. Rejects when the group
   * could not be recorded (its rows are as they were). For a start that is not a `go`, it only
   * waits for that commit. Calling it again returns the same promise.
   */
  confirm(): Promise<void>;
}

/** How long a group's commit waits for the slowest of its sends to confirm. */
const CONFIRM_WAIT_MS = 2_000;

/** How long an acceptance waits for a group of starts to go with, before it is recorded alone. */
const ACCEPTANCE_WAIT_MS = 50;

interface Pending {
  id: number;
  resolve: (begun: Begun) => void;
  reject: (err: unknown) => void;
}

interface PendingAcceptance {
  accepted: Accepted;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Starts sends in groups: the starts asked for while one group's statement runs form the next, so
 * lanes share round trips. A group's transaction stays open until every send of it that may go has
 * confirmed, and groups overlap. So a row is on record as started only once its send has really
 * begun, and a message is completed only once that record is durable: a crash before the commit
 * leaves the rows as they were, and after it every row marked started has reached its provider
 * (unless the provider kept it waiting longer than CONFIRM_WAIT_MS). Acceptances ride along with
 * the next group (`accept`), so a busy dispatcher records them without statements or commits of
 * their own.
 */
export class SendStarts {
  private pending: Pending[] = [];
  private acceptances: PendingAcceptance[] = [];
  private running = false;
  private acceptanceTimer: NodeJS.Timeout | undefined;
  /** Set by `flush`: the acceptances waiting go even without starts. */
  private flushing = false;
  /**
   * The next group's transaction, begun while this group runs: a group then costs one round trip
   * before its sends may go, not two (BEGIN takes no snapshot: an open one waiting holds nothing).
   */
  private spare: Promise<OpenTransaction> | undefined;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly worker: number,
    private readonly clock: Clock,
  ) {}

  start(id: number): Promise<Begun> {
    return new Promise((resolve, reject) => {
      this.pending.push({ id, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  /**
   * Records an acceptance with the next group of starts, in its statement and its commit: a lane's
   * next send waits for its previous acceptance to be on record anyway. Resolves once it is
   * durable; rejects when it could not be recorded. With no group soon, it goes alone.
   */
  accept(accepted: Accepted): Promise<void> {
    return new Promise((resolve, reject) => {
      this.acceptances.push({ accepted, resolve, reject });
      // Those that come while a group runs go with the next one, if starts come before the timer.
      this.acceptanceTimer ??= setTimeout(() => this.flush(), ACCEPTANCE_WAIT_MS);
    });
  }

  /** Records the acceptances waiting for a group now (a lane that goes idle waits for its last one). */
  flush(): void {
    this.flushing = true;
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.pending.length > 0 || (this.flushing && this.acceptances.length > 0)) {
      const acceptances = this.acceptances.splice(0);
      this.flushing = false;
      clearTimeout(this.acceptanceTimer);
      this.acceptanceTimer = undefined;
      if (this.pending.length > 0) await this.open(this.pending.splice(0), acceptances);
      // Alone, and beside the next group rather than before it.
      else void this.recordAlone(acceptances);
    }
    this.running = false;
  }

  private async recordAlone(acceptances: PendingAcceptance[]): Promise<void> {
    try {
      await recordSent(
        this.pool,
        this.worker,
        acceptances.map((a) => a.accepted),
      );
    } catch (err) {
      for (const a of acceptances) a.reject(err);
      return;
    }
    for (const a of acceptances) a.resolve();
  }

  /**
   * Runs a group's start statement (which also records `acceptances`), and hands each start its
   * confirmation; the commit comes later.
   */
  private async open(group: Pending[], acceptances: PendingAcceptance[]): Promise<void> {
    const at = this.clock.now();
    let tx: OpenTransaction | undefined;
    let starts: Start[];
    try {
      tx = await this.transaction();
      starts = await startSends(
        tx.client,
        this.worker,
        group.map((p) => p.id),
        at,
        acceptances.map((a) => a.accepted),
      );
    } catch (err) {
      await tx?.rollback();
      for (const p of [...group, ...acceptances]) p.reject(err);
      return;
    }
    const committed = this.commitWhenConfirmed(tx, starts.filter((s) => s.go).length);
    for (const a of acceptances) committed.promise.then(a.resolve, a.reject);
    group.forEach((p, i) => {
      const start = starts[i]!;
      let confirmed = false;
      const confirm = () => {
        if (start.go && !confirmed) {
          confirmed = true;
          committed.countDown();
        }
        return committed.promise;
      };
      p.resolve({ at, start, confirm });
    });
  }

  /** Gives back the transaction begun ahead, if any; no transaction is begun ahead after this. */
  async close(): Promise<void> {
    this.closed = true;
    this.flush();
    const spare = this.spare;
    this.spare = undefined;
    await spare?.then(
      (tx) => tx.rollback(),
      () => {},
    );
  }

  /** The transaction begun ahead (or a new one), and the next one begun. */
  private transaction(): Promise<OpenTransaction> {
    const tx = this.spare ?? beginTransaction(this.pool);
    this.spare = this.closed ? undefined : beginTransaction(this.pool);
    // A spare that could not begin fails the group that takes it, as beginning then would have.
    this.spare?.catch(() => {});
    return tx;
  }

  /**
   * Commits `tx` once `sends` confirmations came, or after CONFIRM_WAIT_MS: a provider that does
   * not take an envelope within that time holds up no other send of its group (its own start is
   * then recorded without waiting for it).
   */
  private commitWhenConfirmed(tx: OpenTransaction, sends: number): { promise: Promise<void>; countDown(): void } {
    let allConfirmed!: () => void;
    const confirmed = new Promise<void>((resolve) => (allConfirmed = resolve));
    const cap = setTimeout(allConfirmed, CONFIRM_WAIT_MS);
    const promise = confirmed.then(() => {
      clearTimeout(cap);
      return tx.commit();
    });
    // Each send sees the outcome through its own `confirm`; none of them may leave it unhandled.
    promise.catch(() => {});
    let waiting = sends;
    if (waiting === 0) allConfirmed();
    return { promise, countDown: () => void (--waiting === 0 && allConfirmed()) };
  }
}
