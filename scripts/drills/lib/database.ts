import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { isAlive, sleep } from './processes.ts';

const run = promisify(execFile);

/**
 * The drill's own read-only look at the embedded database that the touchpoint processes started
 * under the drill's data directory: the port comes from PostgreSQL's postmaster.pid, the
 * credentials from the file the engine keeps beside it. A new pool is made whenever the server
 * comes back on another port; errors of a server going away are the drill's business, not a crash.
 */
export class DrillDatabase {
  private pool: pg.Pool | undefined;
  private poolUrl = '';
  private closed = false;

  constructor(private readonly dataDir: string) {}

  get pgDir(): string {
    return path.join(this.dataDir, 'postgres');
  }

  /** The live postmaster's pid and port, or undefined when no server is running. */
  postmaster(): { pid: number; port: number } | undefined {
    const file = path.join(this.pgDir, 'postmaster.pid');
    if (!fs.existsSync(file)) return undefined;
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    return pid > 0 && port > 0 && isAlive(pid) ? { pid, port } : undefined;
  }

  private url(): string {
    const server = this.postmaster();
    if (!server) throw new Error(`no PostgreSQL is running under ${this.pgDir}`);
    const { user, password } = JSON.parse(fs.readFileSync(path.join(this.dataDir, 'postgres.json'), 'utf8')) as {
      user: string;
      password: string;
    };
    return `postgresql://${user}:${encodeURIComponent(password)}@127.0.0.1:${server.port}/touchpoint`;
  }

  /**
   * Starts the server again after it died, as an operator (or, once the engine supervises it, the
   * engine) would: pg_ctl from the same binaries, with the options the dead server was started with
   * (PostgreSQL keeps them in postmaster.opts), as the owner of the data directory. Server processes
   * orphaned by a SIGKILL of the postmaster hold the shared memory until they notice and exit, so
   * the start is retried for a while.
   */
  async restartServer(): Promise<void> {
    const opts = fs.readFileSync(path.join(this.pgDir, 'postmaster.opts'), 'utf8').trim();
    const [binary, ...args] = [...opts.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
    const options: string[] = [];
    for (let i = 0; i < args.length; i++) {
      if (args[i] === '-D') i++;
      else options.push(`'${args[i]!.replaceAll("'", `'\\''`)}'`);
    }
    const owner = fs.statSync(this.pgDir);
    const asOwner = process.getuid?.() === 0 ? { uid: owner.uid, gid: owner.gid } : {};
    const pgCtl = path.join(path.dirname(binary!), 'pg_ctl');
    const logFile = path.join(this.dataDir, 'postgres.log');
    for (let attempt = 1; ; attempt++) {
      try {
        await run(pgCtl, ['start', '-D', this.pgDir, '-l', logFile, '-w', '-t', '30', '-o', options.join(' ')], {
          ...asOwner,
          env: { ...process.env, LC_ALL: 'C' },
        });
        return;
      } catch (err) {
        if (attempt >= 30) throw new Error(`pg_ctl start failed ${attempt} times; see ${logFile}`, { cause: err });
        await sleep(1_000);
      }
    }
  }

  async query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    // After close, a connection would keep the last touchpoint process from stopping the server.
    if (this.closed) throw new Error('the drill has closed its database connection');
    const url = this.url();
    if (url !== this.poolUrl) {
      void this.pool?.end().catch(() => {});
      this.pool = new pg.Pool({ connectionString: url, max: 2, application_name: 'drill' });
      this.pool.on('error', () => {});
      this.poolUrl = url;
    }
    return (await this.pool!.query<T>(sql, params)).rows;
  }

  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    this.poolUrl = '';
    await pool?.end().catch(() => {});
  }
}
