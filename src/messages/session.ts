import pg from 'pg';
import { LOCKS, tryLockForSession } from '../db/locks.ts';
import { listen } from '../db/notify.ts';
import { errorMessage } from '../errors.ts';
import { log } from '../log.ts';
import { backoff } from './backoff.ts';

export interface SessionOptions {
  url: string;
  /** The dispatcher whose liveness lock the session holds. */
  worker: number;
  /** A commit queued messages (NOTIFY from the messages table's triggers, migration 0003). */
  onNotify: () => void;
  /** The session went down or came back up. */
  onChange: () => void;
}

/**
 * A dispatcher's own connection. It holds the dispatcher's liveness lock for as long as it lives
 * (other dispatchers take a dispatcher whose lock is free for dead, and re-send its messages) and
 * LISTENs for commits that queue messages. When it drops (the database restarting, a network cut)
 * `up` turns false, and it reconnects with backoff until it holds the same lock again.
 */
export class DispatcherSession {
  private current: pg.Client | undefined;
  private closed = false;

  constructor(private readonly options: SessionOptions) {}

  /** The connection while the session is up (the dispatcher's reclaims run on it, under its lock). */
  get client(): pg.Client | undefined {
    return this.current;
  }

  get up(): boolean {
    return this.current !== undefined;
  }

  /** Connects and takes the lock; throws when the database cannot be reached. */
  async open(): Promise<void> {
    this.current = await this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.current;
    this.current = undefined;
    await client?.end().catch(() => {});
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.options.url, application_name: 'touchpoint-dispatcher', keepAlive: true });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    await client.connect();
    try {
      // Not a waiting lock: after a cut, the server may hold our old session (and its lock) a while longer.
      if (!(await tryLockForSession(client, LOCKS.dispatcher, this.options.worker))) {
        throw new Error('its previous connection still holds its lock');
      }
      await listen(client, 'touchpoint_dispatch');
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    client.on('notification', this.options.onNotify);
    return client;
  }

  private lost(client: pg.Client, err?: Error): void {
    if (client !== this.current || this.closed) return;
    this.current = undefined;
    // Without its lock this dispatcher may be taken for dead and its messages re-sent by others:
    // it starts nothing until it holds the lock again.
    log.error('dispatcher lost its database connection; pausing until it is back', { error: err ? errorMessage(err) : 'connection ended' });
    this.options.onChange();
    void this.reconnect();
  }

  private async reconnect(): Promise<void> {
    for (let tries = 1; !this.closed; tries++) {
      // At most a second apart: a try costs one connection attempt, and every second of waiting
      // after the database is back delays the backlog.
      await new Promise((resolve) => setTimeout(resolve, backoff(tries, 250, 1_000)));
      if (this.closed) return;
      try {
        const client = await this.connect();
        if (this.closed) {
          await client.end().catch(() => {});
          return;
        }
        this.current = client;
        log.info('dispatcher reconnected to the database', { tries });
        this.options.onChange();
        return;
      } catch (err) {
        log.debug('dispatcher could not reconnect yet', { tries, error: errorMessage(err) });
      }
    }
  }
}
