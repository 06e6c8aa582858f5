import os from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Deployment } from './deployment.ts';
import { round } from './figures.ts';
import { sleep } from './processes.ts';
import { CAMPAIGN, seedAudience, writeCampaign, type Audience } from './seed.ts';
import { now } from './smtp-record.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Options every drill takes. */
const COMMON: Options = {
  n: { type: 'string', default: '20000' },
  workers: { type: 'string', default: '3' },
  latency: { type: 'string', default: '0ms' },
  timeout: { type: 'string', default: '15m' },
  keep: { type: 'boolean', default: false },
};

/** `30s`, `500ms`, `2m` (a bare number is milliseconds). */
export function duration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) throw new Error(`'${text}' is not a duration like 500ms, 30s or 2m`);
  return Number(match[1]) * { ms: 1, s: 1_000, m: 60_000 }[(match[2] ?? 'ms') as 'ms' | 's' | 'm'];
}

export function count(text: string, name: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number, not '${text}'`);
  return value;
}

export interface DrillRun {
  d: Deployment;
  audience: Audience;
  n: number;
  /** The drill's own options, as given. */
  values: Record<string, string | boolean | undefined>;
  /** When the run was started, and the CLI's `run` process (it records the outbox, then exits). */
  runStartedAt: number;
  runRecorded: Promise<void>;
  /**
   * Resolves when the backlog is done (nothing queued or being sent) with the time it was first
   * seen done, or with undefined after `timeoutMs` or once `giveUpWhen` says so.
   */
  backlogDone(options?: { timeoutMs?: number; giveUpWhen?: () => boolean }): Promise<number | undefined>;
  /** Milliseconds left of --timeout: the bound of every wait of the drill. */
  remainingMs(): number;
  progress(what: string): void;
}

/** What a drill found: figures (every one goes into the JSON line) and the criteria as checks. */
export interface Findings {
  figures: Record<string, unknown>;
  checks: Record<string, boolean>;
}

/**
 * The frame every drill shares: parse options, deploy (SMTP server, serve, workers on a fresh
 * embedded PostgreSQL), seed the audience, start a run of the one-step campaign, hand over to the
 * drill's fault, then print the findings readably and as one JSON line, and tear everything down,
 * also on Ctrl-C or an error. Exits 0 when every check passed, 1 when one failed, 2 on an error.
 */
export async function drill<P>(
  name: string,
  options: Options,
  body: (run: DrillRun, prepared: P) => Promise<Findings>,
  /** Runs once the deployment is up and seeded, before the run starts (API keys, say). */
  prepare?: (d: Deployment) => Promise<P>,
): Promise<never> {
  const { values } = parseArgs({ options: { ...COMMON, ...options }, strict: true });
  const n = count(values.n as string, 'n');
  const timeoutMs = duration(values.timeout as string);
  const started = now();
  const loadAtStart = os.loadavg().map((l) => round(l, 1));
  const progress = (what: string) => process.stderr.write(`[${((now() - started) / 1000).toFixed(1).padStart(6)} s] ${what}\n`);
  const d = await Deployment.create({
    drill: name,
    workers: count(values.workers as string, 'workers'),
    latencyMs: duration(values.latency as string),
  });

  let tornDown: Promise<Awaited<ReturnType<Deployment['teardown']>>> | undefined;
  const teardown = () => (tornDown ??= d.teardown(values.keep as boolean));
  const onSignal = (signal: NodeJS.Signals) => {
    progress(`${signal}: stopping every process of the drill`);
    void teardown().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const onCrash = (err: unknown) => {
    process.stderr.write(`drill ${name} crashed: ${(err as Error)?.stack ?? err}\n`);
    void teardown().finally(() => process.exit(2));
  };
  process.once('uncaughtException', onCrash);
  process.once('unhandledRejection', onCrash);

  let findings: Findings | undefined;
  let error: unknown;
  try {
    progress(`deploying under ${d.root}`);
    writeCampaign(d);
    await d.startSmtp();
    await d.startServe();
    progress(`serve is up; importing ${n} consented leads and ${Math.max(3, Math.round(n / 20))} without consent`);
    const audience = await seedAudience(d, n);
    await d.startWorkers();
    const prepared = (await prepare?.(d)) as P;
    progress(`${d.workers.length} workers are up; starting the run`);
    const runStartedAt = now();
    const runRecorded = d.cli(['run', CAMPAIGN, '--yes']).then(() => void progress('the run is recorded'));
    runRecorded.catch(() => {});
    const deadline = started + timeoutMs;
    findings = await body(
      {
        d,
        audience,
        n,
        values: values as DrillRun['values'],
        runStartedAt,
        runRecorded,
        progress,
        remainingMs: () => Math.max(0, deadline - now()),
        async backlogDone({ timeoutMs: within, giveUpWhen } = {}) {
          await runRecorded;
          const until = Math.min(deadline, within === undefined ? Infinity : now() + within);
          let lastReport = 0;
          while (now() < until && !giveUpWhen?.()) {
            if ((await d.anyPending()) === false) return now();
            if (now() - lastReport > 5_000) {
              lastReport = now();
              progress(`backlog: ${(await d.pending()) ?? '?'} queued or sending; ${d.record.read().accepted} recipients reached`);
            }
            await sleep(100);
          }
          return undefined;
        },
      },
      prepared,
    );
  } catch (err) {
    error = err;
    process.stderr.write(`drill ${name} failed: ${(err as Error).stack ?? err}\n`);
    process.stderr.write(`logs: ${d.logsDir}${values.keep ? '' : ' (removed at the end; --keep keeps them)'}\n`);
  }
  progress('tearing down');
  const { postgresLeftRunning, orphans } = await teardown();
  const checks = { ...findings?.checks, no_error: error === undefined };
  const pass = Object.values(checks).every(Boolean);
  const figures = {
    machine: {
      cpus: os.availableParallelism(),
      memory_gb: Math.round(os.totalmem() / 2 ** 30),
      load_at_start: loadAtStart,
      load_at_end: os.loadavg().map((l) => round(l, 1)),
    },
    date: new Date(started).toISOString(),
    ...findings?.figures,
    postgres_outlived_touchpoint: postgresLeftRunning,
    orphans_killed_at_teardown: orphans,
    ...(error === undefined ? {} : { error: String((error as Error).message ?? error) }),
  };
  printFindings(name, figures, checks);
  process.stdout.write(JSON.stringify({ drill: name, n, options: values, ...figures, checks, pass }) + '\n');
  process.exit(error !== undefined ? 2 : pass ? 0 : 1);
}

function printFindings(name: string, figures: Record<string, unknown>, checks: Record<string, boolean>): void {
  const out = [`\n${name} drill`, ''];
  for (const [key, value] of Object.entries(figures)) {
    const label = `  ${key.replaceAll('_', ' ').padEnd(50)}`;
    // Lists of records (one per kill, per probe …) get a line each.
    if (Array.isArray(value) && value.some((v) => typeof v === 'object')) {
      out.push(`${label} ${value.length}`, ...value.map((v) => `      ${JSON.stringify(v)}`));
    } else {
      out.push(`${label} ${typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)}`);
    }
  }
  out.push('', 'criteria (issue 12):');
  for (const [key, ok] of Object.entries(checks)) out.push(`  ${ok ? 'PASS' : 'FAIL'}  ${key.replaceAll('_', ' ')}`);
  process.stdout.write(out.join('\n') + '\n\n');
}
