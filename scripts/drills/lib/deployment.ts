import fs from 'node:fs';
import path from 'node:path';
import type { QueryResultRow } from 'pg';
import { scratchHome } from '../../../src/db/embedded.ts';
import { DrillDatabase } from './database.ts';
import { BIN, freePort, isAlive, ManagedProcess, processesUnder, REPO, runCommand, sleep, TSX, until } from './processes.ts';
import { CAMPAIGN } from './seed.ts';
import { SmtpRecord } from './smtp-record.ts';

/** Variables the deployment sets itself; inherited values would point its processes elsewhere. */
const OWN_VARIABLES = [
  'DATABASE_URL',
  'TOUCHPOINT_DATA_DIR',
  'CAMPAIGNS_DIR',
  'TEMPLATES_DIR',
  'SMTP_URL',
  'PORT',
  'PUBLIC_URL',
  'WORKER_HTTP_PORT',
  'INBOUND_SMTP_PORT',
];

export interface DeploymentOptions {
  drill: string;
  workers: number;
  /** Milliseconds the SMTP server holds each message before accepting it (a slow provider). */
  latencyMs: number;
}

/**
 * Everything a drill runs, as production would run it, each in its own process: a real SMTP
 * server that records what it accepts, `touchpoint serve` (HTTP API, scheduler, dispatcher) and
 * `touchpoint worker`s, on the embedded PostgreSQL that the first of them starts under the drill's
 * own directory var/drills/<drill>-<pid>. Nothing is shared with another drill or a developer's ./var.
 */
/** Where every drill's deployment lives: var/drills in the checkout, unless PostgreSQL could not reach it. */
export const DRILLS_HOME = scratchHome(REPO, 'var/drills', 'touchpoint-drills');

export class Deployment {
  readonly root: string;
  readonly dataDir: string;
  readonly campaignsDir: string;
  readonly templatesDir: string;
  readonly logsDir: string;
  readonly db: DrillDatabase;
  readonly record: SmtpRecord;
  readonly smtp: ManagedProcess;
  readonly serve: ManagedProcess;
  readonly workers: ManagedProcess[];

  private constructor(
    readonly options: DeploymentOptions,
    readonly smtpPort: number,
    readonly httpPort: number,
    /** Where each worker's health listener would be (WORKER_HTTP_PORT), once workers have one. */
    readonly workerPorts: number[],
  ) {
    this.root = path.join(DRILLS_HOME, `${options.drill}-${process.pid}`);
    this.dataDir = path.join(this.root, 'data');
    this.campaignsDir = path.join(this.root, 'campaigns');
    this.templatesDir = path.join(this.root, 'templates');
    this.logsDir = path.join(this.root, 'logs');
    for (const dir of [this.campaignsDir, this.templatesDir, this.logsDir]) fs.mkdirSync(dir, { recursive: true });
    this.db = new DrillDatabase(this.dataDir);
    const recordFile = path.join(this.root, 'smtp-record.jsonl');
    this.record = new SmtpRecord(recordFile);
    const log = (name: string) => path.join(this.logsDir, `${name}.log`);
    this.smtp = new ManagedProcess(
      'smtp',
      [...TSX, path.join(import.meta.dirname, 'smtp-server.ts'), String(smtpPort), recordFile, String(options.latencyMs)],
      { cwd: this.root, env: process.env, log: log('smtp'), ipc: true },
    );
    this.serve = new ManagedProcess('serve', [BIN, 'serve'], { cwd: this.root, env: this.env(), log: log('serve') });
    this.workers = workerPorts.map(
      (port, i) =>
        new ManagedProcess(`worker-${i + 1}`, [BIN, 'worker'], {
          cwd: this.root,
          env: { ...this.env(), WORKER_HTTP_PORT: String(port) },
          log: log(`worker-${i + 1}`),
        }),
    );
  }

  static async create(options: DeploymentOptions): Promise<Deployment> {
    const workerPorts = [];
    for (let i = 0; i < options.workers; i++) workerPorts.push(await freePort());
    return new Deployment(options, await freePort(), await freePort(), workerPorts);
  }

  /** The environment of every touchpoint process: production defaults, pointed at the drill's own resources. */
  env(): NodeJS.ProcessEnv {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !OWN_VARIABLES.includes(name)));
    return {
      ...inherited,
      TOUCHPOINT_DATA_DIR: this.dataDir,
      CAMPAIGNS_DIR: this.campaignsDir,
      TEMPLATES_DIR: this.templatesDir,
      SMTP_URL: `smtp://127.0.0.1:${this.smtpPort}?ignore_tls=true`,
      PORT: String(this.httpPort),
      PUBLIC_URL: `http://127.0.0.1:${this.httpPort}`,
      LOG_LEVEL: process.env.DRILL_LOG_LEVEL ?? 'warn',
    };
  }

  url(pathname: string): string {
    return `http://127.0.0.1:${this.httpPort}${pathname}`;
  }

  get touchpoint(): ManagedProcess[] {
    return [this.serve, ...this.workers];
  }

  /** Starts the SMTP server (again, on the same port) and resolves once it listens. */
  async startSmtp(): Promise<void> {
    const child = this.smtp.start();
    if (!child) throw new Error('the drill is tearing down');
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`the SMTP server exited (${code}) before listening; see ${this.logsDir}/smtp.log`)));
    });
  }

  /** Starts `serve` (the first touchpoint process: it starts the embedded PostgreSQL) and waits for /healthz. */
  async startServe(): Promise<void> {
    this.serve.start();
    await until(
      '`touchpoint serve` to answer /healthz',
      async () => {
        if (!this.serve.alive) throw new Error(`touchpoint serve exited; see ${this.logsDir}/serve.log`);
        return (await this.fetchStatus('/healthz')) === 200 ? true : undefined;
      },
      180_000,
      200,
    );
  }

  /** Starts every worker and waits until each holds a dispatcher connection. */
  async startWorkers(): Promise<void> {
    for (const worker of this.workers) worker.start();
    await this.waitForDispatchers(1 + this.workers.length);
  }

  async waitForDispatchers(count: number): Promise<void> {
    await until(
      `${count} dispatchers (serve and the workers) to connect`,
      async () => {
        const dead = this.touchpoint.find((p) => !p.alive);
        if (dead) throw new Error(`${dead.name} exited; see ${this.logsDir}/${dead.name}.log`);
        const [row] = await this.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'touchpoint-dispatcher'`,
        );
        return row!.n >= count ? true : undefined;
      },
      180_000,
      200,
    );
  }

  /** Runs a CLI command against the deployment; a non-zero exit is an error naming its output. */
  async cli(args: string[]): Promise<string> {
    const { code, stdout, stderr } = await runCommand(args, { cwd: this.root, env: this.env() });
    if (code !== 0) throw new Error(`touchpoint ${args.join(' ')} exited with ${code}:\n${stderr}${stdout}`);
    return stdout;
  }

  /** The HTTP status of a GET, or what kept it from answering (refused, timeout). */
  async fetchStatus(pathname: string, port = this.httpPort, timeoutMs = 1_000): Promise<number | 'refused' | 'timeout' | 'error'> {
    try {
      const res = await fetch(`http://127.0.0.1:${port}${pathname}`, { signal: AbortSignal.timeout(timeoutMs) });
      await res.arrayBuffer();
      return res.status;
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      if (cause?.code === 'ECONNREFUSED') return 'refused';
      if ((err as Error).name === 'TimeoutError') return 'timeout';
      return 'error';
    }
  }

  /** Messages of the drill's campaign still queued or being sent (undefined while the database does not answer). */
  async pending(): Promise<number | undefined> {
    return this.ask<{ n: number }>(`SELECT count(*)::int AS n FROM messages WHERE campaign_id = $1 AND status IN ('queued', 'sending')`, [
      CAMPAIGN,
    ]).then((row) => row?.n);
  }

  /**
   * Whether anything is still queued or being sent: what the drill polls every 100 ms. The count
   * above reads every message of the campaign, and ten times a second it took a share of the two
   * cores the installation measured needs; this stops at the first row of the partial indexes on
   * queued and claimed messages (the drill's database holds only its campaign).
   */
  async anyPending(): Promise<boolean | undefined> {
    return this.ask<{ any: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM messages WHERE status = 'queued') OR EXISTS (SELECT 1 FROM messages WHERE status = 'sending') AS any`,
      [],
    ).then((row) => row?.any);
  }

  private async ask<T extends QueryResultRow>(sql: string, params: unknown[]): Promise<T | undefined> {
    try {
      const [row] = await this.db.query<T>(sql, params);
      return row;
    } catch {
      return undefined;
    }
  }

  /**
   * Stops everything the drill started and removes its directory (unless `keep`): the drill's own
   * connection first (so the last touchpoint process out may stop PostgreSQL itself), then the
   * touchpoint processes, the SMTP server, PostgreSQL when it outlived them, and finally any process
   * still working under the drill's directory. Returns how many such orphans it had to kill.
   */
  async teardown(keep: boolean): Promise<{ postgresLeftRunning: boolean; orphans: number }> {
    await this.db.close();
    await Promise.all(this.touchpoint.map((p) => p.retire()));
    await this.smtp.retire(5_000);
    const server = this.db.postmaster();
    if (server) await stopPostmaster(server.pid);
    // Server processes whose postmaster died (a drill's SIGKILL) exit on their own once they notice.
    let orphans = processesUnder(this.root);
    for (let i = 0; i < 50 && orphans.length > 0; i++) {
      await sleep(100);
      orphans = processesUnder(this.root);
    }
    for (const pid of orphans) process.kill(pid, 'SIGKILL');
    if (!keep) fs.rmSync(this.root, { recursive: true, force: true });
    return { postgresLeftRunning: server !== undefined, orphans: orphans.length };
  }
}

/** Fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL, each given a few seconds. */
async function stopPostmaster(pid: number): Promise<void> {
  for (const [signal, waitMs] of [
    ['SIGINT', 15_000],
    ['SIGQUIT', 5_000],
    ['SIGKILL', 5_000],
  ] as const) {
    if (!isAlive(pid)) return;
    process.kill(pid, signal);
    for (let waited = 0; waited < waitMs && isAlive(pid); waited += 100) await sleep(100);
  }
}
