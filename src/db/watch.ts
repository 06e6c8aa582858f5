import pg from 'pg';
import { errorMessage } from '../errors.ts';
import { log } from '../log.ts';
import type { EmbeddedPostgres } from './embedded.ts';
import { statement } from './statement.ts';

const PING = statement('db.ping', 'SELECT 1');
const CHECK_EVERY_MS = 1_000;
/** A server that takes longer than this to accept a connection or answer `SELECT 1` counts as gone. */
const ANSWER_WITHIN_MS = 5_000;

/**
 * Keeps a long-running process informed about its database: one connection of its own asks
 * `SELECT 1` every second (the pool may be busy; this answer must not wait behind it). An outage is
 * logged once when it starts and once when it ends; `onReturn` runs when the server answers again,
 * with the moment the outage was first seen.
 * On the embedded server, a check that finds the server process dead starts it again: every process
 * using it watches it, and its lock lets only the first one start it.
 */
export class DatabaseWatch {
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  /** When the current outage was first seen; undefined while the database answers. */
  private downSince: number | undefined;
  private restarting = false;

  constructor(
    private readonly url: string,
    private readonly embedded: EmbeddedPostgres | undefined,
    private readonly onReturn: (downSince: Date) => void,
  ) {}

  get reachable(): boolean {
    return this.downSince === undefined;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.check(), CHECK_EVERY_MS);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.checking;
    await this.drop();
  }

  /** Checks now, unless a check is under way (then waits for that one). */
  check(): Promise<void> {
    this.checking ??= this.probe().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async probe(): Promise<void> {
    try {
      this.client ??= await this.connect();
      await this.client.query(PING);
    } catch (err) {
      await this.lost(err);
      if (this.embedded && this.timer && !this.embedded.running()) await this.restartServer(this.embedded);
      return;
    }
    const downSince = this.downSince;
    if (downSince === undefined) return;
    log.info('the database answers again', { down_s: Math.round((Date.now() - downSince) / 100) / 10 });
    this.downSince = undefined;
    this.restarting = false;
    this.onReturn(new Date(downSince));
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.url,
      application_name: 'touchpoint-watch',
      connectionTimeoutMillis: ANSWER_WITHIN_MS,
      query_timeout: ANSWER_WITHIN_MS,
    });
    // A connection lost between checks: say so now rather than at the next check.
    client.on('error', (err) => void this.lost(err));
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    return client;
  }

  private async lost(err: unknown): Promise<void> {
    await this.drop();
    if (this.downSince !== undefined || !this.timer) return;
    this.downSince = Date.now();
    log.warn('the database cannot be reached; waiting for it to return', { error: errorMessage(err) });
  }

  private async drop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  /** Starts the embedded server again; a failure (its old processes still exiting) is retried at the next check. */
  private async restartServer(server: EmbeddedPostgres): Promise<void> {
    if (!this.restarting) log.warn('the embedded PostgreSQL is not running; starting it again (it recovers from its own log)');
    this.restarting = true;
    try {
      await server.restart();
    } catch (err) {
      log.debug('starting the embedded PostgreSQL failed; trying again', { error: errorMessage(err) });
    }
  }
}
