import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { now } from './smtp-record.ts';

export const REPO = path.resolve(import.meta.dirname, '../../..');
export const BIN = path.join(REPO, 'bin/touchpoint.js');
/** Node's `--import` for TypeScript scripts, resolved here: a process may run in a folder outside the checkout. */
export const TSX = ['--import', import.meta.resolve('tsx')];

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => probe.once('listening', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Polls `probe` every `everyMs` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export interface Exit {
  at: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One long-running process of the deployment (`touchpoint serve`, a `touchpoint worker`, the SMTP
 * server), started and restarted under the same name, its output appended to logs/<name>.log.
 */
export class ManagedProcess {
  child: ChildProcess | undefined;
  /** Every exit, expected (a drill's kill) or not. */
  readonly exits: Exit[] = [];

  constructor(
    readonly name: string,
    private readonly command: string[],
    private readonly options: { cwd: string; env: NodeJS.ProcessEnv; log: string; ipc?: boolean },
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Set when the drill tears down: a restart still pending (a kill's "after a moment") must not start it again. */
  private retired = false;

  /** Starts the process; does nothing once the drill is tearing down. */
  start(): ChildProcess | undefined {
    if (this.retired) return undefined;
    if (this.alive) throw new Error(`${this.name} is already running`);
    const log = fs.openSync(this.options.log, 'a');
    const child = spawn(process.execPath, this.command, {
      cwd: this.options.cwd,
      env: this.options.env,
      stdio: ['ignore', log, log, ...(this.options.ipc ? (['ipc'] as const) : [])],
    });
    fs.closeSync(log);
    child.once('exit', (code, signal) => this.exits.push({ at: now(), code, signal }));
    this.child = child;
    return child;
  }

  /** Sends `signal` and resolves when the process is gone. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await gone;
  }

  /** Stops it for good (see `start`). */
  async retire(graceMs?: number): Promise<void> {
    this.retired = true;
    await this.stop(graceMs);
  }

  /** SIGTERM, then SIGKILL when it has not exited within `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
}

/** Runs a one-shot CLI command of the deployment and returns its output. */
export function runCommand(
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Processes whose working directory lies under `dir` (PostgreSQL's server processes run in their data directory). */
export function processesUnder(dir: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      if (cwd === dir || cwd.startsWith(dir + path.sep)) found.push(pid);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * How many established TCP connections process `pid` holds to `port` on this machine: its socket
 * inodes (/proc/<pid>/fd) matched against the kernel's connection tables (/proc/net/tcp, tcp6).
 */
export function connectionsTo(pid: number, port: number): number {
  const inodes = new Set<string>();
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      const target = safeReadlink(`/proc/${pid}/fd/${fd}`);
      const inode = /^socket:\[(\d+)\]$/.exec(target ?? '')?.[1];
      if (inode) inodes.add(inode);
    }
  } catch {
    return 0;
  }
  let found = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(table)) continue;
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [, , remote, state, , , , , , inode] = fields;
      if (state === '01' && inode && inodes.has(inode) && parseInt(remote!.split(':')[1]!, 16) === port) found++;
    }
  }
  return found;
}

function safeReadlink(file: string): string | undefined {
  try {
    return fs.readlinkSync(file);
  } catch {
    return undefined;
  }
}
