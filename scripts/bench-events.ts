/**
 * Event intake at a shop's rate, against a running engine (`touchpoint serve` in its own process, on
 * an embedded PostgreSQL; a local SMTP server in a third process takes what it sends). Each
 * measured event is posted in its own HTTP request at a fixed rate and starts an event campaign
 * whose first step has no wait; its latency runs from the POST to the message's arrival over SMTP.
 *
 *   npx tsx scripts/bench-events.ts [--rate 500] [--seconds 10] [--warmup 5]
 *                                   [--ramp 750,1000,1250,1500] [--ramp-seconds 5]
 *                                   [--batches 20] [--batch-size 1000]
 *
 * Phases, one engine for all: the target rate (`--rate`), then each rate of `--ramp` in turn until
 * one misses p99 ≤ 1 s (the highest that held is reported), then batch intake: `--batches`
 * requests of `--batch-size` events each (events no campaign reacts to, as most of a shop's are),
 * two requests at a time, counted as events recorded per second. Baselines, measured in the same
 * run: raw pooled nodemailer sending one message per tick at the target rate to the same SMTP
 * server, and raw PostgreSQL inserting the batches' rows into a bare table of the same columns.
 * The last line is one JSON object with every figure and `"pass"`.
 *
 * BENCH_TRACE=1 prints each phase's latency per second of the run; SERVE_NODE_ARGS passes node
 * flags to the server (for example `--cpu-prof --cpu-prof-dir=/tmp/prof`), SERVE_LOG_LEVEL its log level.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import nodemailer from 'nodemailer';
import { createApiKey } from '../src/access/keys.ts';
import { openDatabase, type Database } from '../src/db/index.ts';
import { setLogLevel } from '../src/log.ts';
import { seedLeads } from '../test/helpers/seed.ts';
import { startSmtpProcess } from './bench/smtp.ts';
import { now, SmtpRecord } from './drills/lib/smtp-record.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '5' },
    ramp: { type: 'string', default: '750,1000,1250,1500' },
    'ramp-seconds': { type: 'string', default: '5' },
    batches: { type: 'string', default: '20' },
    'batch-size': { type: 'string', default: '1000' },
    workers: { type: 'string', default: '0' },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
/** Events sent first and not measured: until some thousands have passed, the path is still being compiled and its pools filled. */
const WARMUP = Math.round(RATE * Number(values.warmup));
const RAMP = values.ramp ? values.ramp.split(',').map(Number) : [];
const RAMP_SECONDS = Number(values['ramp-seconds']);
const BATCHES = Number(values.batches);
const BATCH_SIZE = Number(values['batch-size']);
/** `touchpoint worker` processes started beside serve, sharing its sending (0: serve sends alone). */
const WORKERS = Number(values.workers);
/** The latency a rate must hold at its 99th percentile. */
const TARGET_P99_MS = 1000;
setLogLevel('warn');

// The mail provider runs in its own process (scripts/bench/smtp.ts), as a provider does, and
// records when it accepted each message; times here are on the same clock (`now`).
const benchDir = path.resolve('var/bench');
fs.mkdirSync(benchDir, { recursive: true });
const recordFile = path.join(benchDir, `smtp-events-${Date.now()}.jsonl`);
const smtp = await startSmtpProcess(benchDir, recordFile);
const smtpPort = smtp.port;
const record = new SmtpRecord(recordFile);
/** When the provider accepted the first copy for each recipient. */
const arrivals = record.firstAccepted;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Fires `fire(i)` `count` times at `rate` per second, on schedule even when earlier calls are slow. */
async function atFixedRate(rate: number, count: number, fire: (i: number) => Promise<void>): Promise<void> {
  const started = now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const wait = started + (i * 1000) / rate - now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(fire(i));
  }
  await Promise.all(pending);
}

async function waitForArrivals(addresses: string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  let missing = addresses.filter((a) => !record.read().firstAccepted.has(a));
  while (missing.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    missing = missing.filter((a) => !record.read().firstAccepted.has(a));
  }
  if (missing.length > 0) process.stderr.write(`${missing.length} of ${addresses.length} never arrived, e.g. ${missing[0]}\n`);
}

function latencies(starts: Map<string, number>): number[] {
  return [...starts].map(([address, start]) => (arrivals.get(address) ?? Infinity) - start).sort((a, b) => a - b);
}

/** p50, p99 and max of sorted latencies, in ms (Infinity for a message that never arrived). */
function summary(sorted: number[]) {
  return { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted[sorted.length - 1]!) };
}
const round = (n: number) => (Number.isFinite(n) ? Math.round(n * 10) / 10 : n);

async function raw(): Promise<number[]> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, pool: true, maxConnections: 10, ignoreTLS: true });
  const send = (to: string) => transport.sendMail({ from: 'bench@example.com', to, subject: 'Welcome', html: '<p>Hello</p>' });
  await atFixedRate(RATE, WARMUP, async (i) => void (await send(`raw-warm-${i}@example.com`)));
  const starts = new Map<string, number>();
  await atFixedRate(RATE, RATE * SECONDS, async (i) => {
    const to = `raw-${i}@example.com`;
    starts.set(to, now());
    await send(to);
  });
  await waitForArrivals([...starts.keys()]);
  transport.close();
  return latencies(starts);
}

/** Raw PostgreSQL: the batches' rows inserted into a bare table of the events' columns, a batch per statement, two at a time. */
async function rawInserts(database: Database): Promise<number> {
  // A plain table (logged, like events), made new for each run and dropped after it.
  await database.pool.query(`DROP TABLE IF EXISTS bench_raw_events`);
  await database.pool.query(
    `CREATE TABLE bench_raw_events (id bigserial PRIMARY KEY, event_key text UNIQUE, lead_id bigint, name text, properties jsonb, occurred_at timestamptz)`,
  );
  const insert = (b: number) =>
    database.pool.query(
      `INSERT INTO bench_raw_events (event_key, lead_id, name, properties, occurred_at)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::jsonb[], $5::timestamptz[]) ON CONFLICT (event_key) DO NOTHING`,
      [
        Array.from({ length: BATCH_SIZE }, (_, i) => `raw-${b}-${i}`),
        Array.from({ length: BATCH_SIZE }, (_, i) => i + 1),
        Array.from({ length: BATCH_SIZE }, () => 'viewed_product'),
        Array.from({ length: BATCH_SIZE }, (_, i) => JSON.stringify({ sku: `sku-${i % 50}`, price: 19.9 })),
        Array.from({ length: BATCH_SIZE }, () => new Date()),
      ],
    );
  const started = now();
  await Promise.all(
    Array.from({ length: 2 }, async (_, lane) => {
      for (let b = lane; b < BATCHES; b += 2) await insert(b);
    }),
  );
  const rowsPerSecond = (BATCHES * BATCH_SIZE) / ((now() - started) / 1000);
  await database.pool.query(`DROP TABLE bench_raw_events`);
  return rowsPerSecond;
}

const TICKS_PER_SECOND = 100;

/**
 * CPU seconds (user and system) a process has used so far, from /proc, with those of its children
 * that ended and were waited for when `reaped`; 0 once it is gone.
 */
function cpuOf(pid: number, reaped = false): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    return (fields[11]! + fields[12]! + (reaped ? fields[13]! + fields[14]! : 0)) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by a PostgreSQL server: its postmaster, its live backends, and those that ended (a pool closes idle ones). */
function postgresCpu(postmaster: number): number {
  let total = cpuOf(postmaster, true);
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) total += cpuOf(Number(entry));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return total;
}

/** A free TCP port on loopback. */
async function freePort(): Promise<number> {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => probe.once('listening', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}

interface Phase {
  rate: number;
  events: number;
  post: ReturnType<typeof summary>;
  answerToSmtp: ReturnType<typeof summary>;
  eventToSmtp: ReturnType<typeof summary>;
  /** Requests answered 429 (intake at capacity) and sent again after Retry-After. */
  refused: number;
  /** Requests whose connection failed, sent again (the event id makes that safe). */
  resets: number;
  lost: number;
  /**
   * CPU milliseconds per event from the first POST to the last arrival: serve's process, the
   * workers', PostgreSQL's, the SMTP server's, and this process's (the shop posting the events).
   * Their sum times the rate, against the 2 cores, is how busy the machine is.
   */
  cpu: { serve: number; workers: number; postgres: number; smtp: number; bench: number };
}

/** The engine runs as `touchpoint serve` in its own process, as in production. */
async function engine() {
  const dataDir = path.resolve('var/bench');
  const database = await openDatabase({ dataDir, poolSize: 5 });
  const port = await freePort();
  const env = {
    ...process.env,
    DISPATCH_POLL_MS: process.env.DISPATCH_POLL_MS ?? '1000',
    DATABASE_URL: database.url,
    PORT: String(port),
    CAMPAIGNS_DIR: path.resolve('test/fixtures/events-http/campaigns'),
    TEMPLATES_DIR: path.resolve('test/fixtures/e2e/templates'),
    SMTP_URL: `smtp://127.0.0.1:${smtpPort}?ignore_tls=true`,
    LOG_LEVEL: process.env.SERVE_LOG_LEVEL ?? 'warn',
  };
  const nodeArgs = process.env.SERVE_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, 'bin/touchpoint.js', 'serve'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const workers = Array.from({ length: WORKERS }, () =>
    spawn(process.execPath, ['bin/touchpoint.js', 'worker'], { env, stdio: ['ignore', 'inherit', 'inherit'] }),
  );
  try {
    const workersCpu = () => workers.reduce((sum, w) => sum + cpuOf(w.pid!), 0);
    const postmaster = Number(fs.readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    const runId = Date.now();
    const lead = (phase: string, i: number) => `lat-${runId}-${phase}-${i}`;
    const phases: [string, number, number][] = [
      ['warm', RATE, WARMUP],
      ['target', RATE, RATE * SECONDS],
      ...RAMP.map((r): [string, number, number] => [`ramp${r}`, r, r * RAMP_SECONDS]),
    ];
    const ids = phases.flatMap(([name, , count]) => Array.from({ length: count }, (_, i) => lead(name, i)));
    // In slices: the ledger locks each lead it writes, and one transaction holds only so many locks.
    for (let from = 0; from < ids.length; from += 5000)
      await seedLeads(
        database,
        ids
          .slice(from, from + 5000)
          .map((id) => ({ id, email: `${id}@example.com`, first: 'L', locale: null, orders: 1, consent: ['grant', 'confirm'] as const })),
      );
    const key = (await createApiKey(database.pool, 'marketer', 'bench')).key;
    progress(`engine: ${ids.length} leads ready, waiting for the server`);
    const base = `http://127.0.0.1:${port}`;
    for (let ready = false; !ready;) {
      ready = await fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (!ready) await new Promise((r) => setTimeout(r, 100));
    }

    /** Posts a body to the events API as a shop's system would: again after a 429's Retry-After, or a dropped connection. */
    const post = async (body: unknown, counts: { refused: number; resets: number }): Promise<Response> => {
      for (;;) {
        const res = await fetch(`${base}/api/v1/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }).catch(() => undefined);
        if (!res) {
          counts.resets++;
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        if (res.status !== 429) return res;
        counts.refused++;
        await res.arrayBuffer();
        await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get('retry-after') ?? 1)));
      }
    };

    /** One event per request at `rate`; latency counts from each event's first attempt. */
    const phase = async (name: string, rate: number, count: number): Promise<Phase> => {
      progress(`engine: ${name}, ${count} events at ${rate}/s`);
      const starts = new Map<string, number>();
      const answered = new Map<string, number>();
      const posts: number[] = [];
      const counts = { refused: 0, resets: 0 };
      const cpuBefore = {
        serve: cpuOf(child.pid!),
        workers: workersCpu(),
        postgres: postgresCpu(postmaster),
        smtp: cpuOf(smtp.process.pid!),
        bench: cpuOf(process.pid),
      };
      await atFixedRate(rate, count, async (i) => {
        const id = lead(name, i);
        const address = `${id}@example.com`;
        starts.set(address, now());
        const res = await post({ id: `bench-${id}`, lead: id, event: 'signed_up', properties: {} }, counts);
        if (res.status !== 201) throw new Error(`event for ${id}: HTTP ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
        answered.set(address, now());
        posts.push(now() - starts.get(address)!);
      });
      await waitForArrivals([...starts.keys()]);
      const cpu = {
        serve: round(((cpuOf(child.pid!) - cpuBefore.serve) * 1000) / count),
        workers: round(((workersCpu() - cpuBefore.workers) * 1000) / count),
        smtp: round(((cpuOf(smtp.process.pid!) - cpuBefore.smtp) * 1000) / count),
        bench: round(((cpuOf(process.pid) - cpuBefore.bench) * 1000) / count),
        postgres: round(((postgresCpu(postmaster) - cpuBefore.postgres) * 1000) / count),
      };
      const measured = latencies(starts);
      if (process.env.BENCH_TRACE) {
        const t0 = Math.min(...starts.values());
        const bySecond = new Map<number, number[]>();
        for (const [a, s] of starts) {
          const second = Math.floor((s - t0) / 1000);
          bySecond.set(second, [...(bySecond.get(second) ?? []), (arrivals.get(a) ?? Infinity) - s]);
        }
        for (const [second, l] of bySecond)
          console.error(
            `  ${name} second ${second}: p50 ${round(
              percentile(
                l.sort((a, b) => a - b),
                50,
              ),
            )} ms, max ${round(l[l.length - 1]!)} ms`,
          );
      }
      return {
        rate,
        events: count,
        post: summary(posts.sort((a, b) => a - b)),
        answerToSmtp: summary(latencies(answered)),
        eventToSmtp: summary(measured),
        ...counts,
        lost: measured.filter((l) => !Number.isFinite(l)).length,
        cpu,
      };
    };

    const [, warmRate, warmCount] = phases[0]!;
    await phase('warm', warmRate, warmCount);
    const target = await phase('target', RATE, RATE * SECONDS);
    const ramp: Phase[] = [];
    for (const rate of RAMP) {
      const held = await phase(`ramp${rate}`, rate, rate * RAMP_SECONDS);
      ramp.push(held);
      if (held.eventToSmtp.p99 > TARGET_P99_MS || held.lost > 0) break;
    }

    progress(`engine: batch intake, ${BATCHES} requests of ${BATCH_SIZE} events`);
    const known = ids.slice(0, BATCH_SIZE);
    const counts = { refused: 0, resets: 0 };
    let recorded = 0;
    const batchOf = (b: number) =>
      known.map((id, i) => ({
        id: `batch-${runId}-${b}-${i}`,
        lead: id,
        event: 'viewed_product',
        properties: { sku: `sku-${i % 50}`, price: 19.9 },
      }));
    const bodies = Array.from({ length: BATCHES }, (_, b) => batchOf(b));
    const batchStarted = now();
    const lanes = Array.from({ length: 2 }, async (_, lane) => {
      for (let b = lane; b < BATCHES; b += 2) {
        const res = await post(bodies[b], counts);
        if (res.status !== 201) throw new Error(`batch ${b}: HTTP ${res.status} ${await res.text()}`);
        recorded += ((await res.json()) as { recorded: number }).recorded;
      }
    });
    await Promise.all(lanes);
    const batchSeconds = (now() - batchStarted) / 1000;
    progress('engine: raw PostgreSQL inserts of the same rows');
    const rawRowsPerSecond = await rawInserts(database);
    return { target, ramp, batch: { recorded, seconds: batchSeconds, perSecond: recorded / batchSeconds, ...counts, rawRowsPerSecond } };
  } finally {
    progress('engine: stopping touchpoint serve');
    await Promise.all(
      [child, ...workers].map((p) => {
        const exited = new Promise((r) => (p.exitCode !== null ? r(p.exitCode) : p.once('exit', r)));
        p.kill('SIGTERM');
        return exited;
      }),
    );
    progress('engine: stopped');
    await database.close();
  }
}

const line = (name: string, l: { p50: number; p99: number; max: number }) =>
  `${name.padEnd(30)} p50 ${l.p50.toFixed(1).padStart(8)} ms   p99 ${l.p99.toFixed(1).padStart(8)} ms   max ${l.max.toFixed(1).padStart(8)} ms`;

const progress = (what: string) => process.stderr.write(`${new Date().toISOString()} ${what}\n`);
progress(`baseline: raw nodemailer at ${RATE}/s`);
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const baseline = summary(await raw());
progress('engine: starting touchpoint serve');
const { target, ramp, batch } = await engine();
await smtp.process.stop();
fs.rmSync(recordFile, { force: true });

const held = [target, ...ramp].filter((p) => p.eventToSmtp.p99 <= TARGET_P99_MS && p.lost === 0);
const maxRate = held.length > 0 ? Math.max(...held.map((p) => p.rate)) : 0;
console.log(
  `${target.events} events at ${RATE}/s, one HTTP request each (${target.refused} answered 429 and sent again, ${target.resets} connections reset)`,
);
console.log(line('raw nodemailer (baseline)', baseline));
console.log(line('POST answered', target.post));
console.log(line('answer -> SMTP', target.answerToSmtp));
console.log(line('event -> SMTP (engine)', target.eventToSmtp));
console.log(
  `CPU per event: serve ${target.cpu.serve} ms${WORKERS ? `, ${WORKERS} worker(s) ${target.cpu.workers} ms` : ''}, PostgreSQL ${target.cpu.postgres} ms, SMTP server ${target.cpu.smtp} ms, this load generator ${target.cpu.bench} ms: the machine ${Math.round((RATE * (target.cpu.serve + target.cpu.workers + target.cpu.postgres + target.cpu.smtp + target.cpu.bench)) / 20)} % busy of 2 cores`,
);
console.log(
  `p99 ratio engine/raw: ${(target.eventToSmtp.p99 / baseline.p99).toFixed(1)}x; target p99 ≤ ${TARGET_P99_MS} ms: ${target.eventToSmtp.p99 <= TARGET_P99_MS && target.lost === 0 ? 'met' : 'MISSED'}${target.lost ? `; ${target.lost} never arrived` : ''}`,
);
for (const p of ramp) console.log(line(`  at ${p.rate}/s${p.refused ? ` (${p.refused}×429)` : ''}`, p.eventToSmtp));
console.log(`highest rate with p99 ≤ ${TARGET_P99_MS} ms: ${maxRate}/s (goal ≥ 1000/s)`);
console.log(
  `batch intake: ${batch.recorded} events in ${BATCHES} requests of ${BATCH_SIZE} in ${batch.seconds.toFixed(2)} s = ${Math.round(batch.perSecond)} events/s recorded (goal ≥ 10000); raw PostgreSQL insert ${Math.round(batch.rawRowsPerSecond)} rows/s, ratio ${(batch.perSecond / batch.rawRowsPerSecond).toFixed(2)}`,
);
console.log(
  `bench process event-loop delay p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms, max ${(loopDelay.max / 1e6).toFixed(1)} ms`,
);
const pass = target.eventToSmtp.p99 <= TARGET_P99_MS && target.lost === 0 && maxRate >= 1000 && batch.perSecond >= 10_000;
console.log(
  JSON.stringify({
    rate: RATE,
    workers: WORKERS,
    events: target.events,
    raw: baseline,
    post: target.post,
    answer_to_smtp: target.answerToSmtp,
    event_to_smtp: target.eventToSmtp,
    p99_ratio: round(target.eventToSmtp.p99 / baseline.p99),
    refused: target.refused,
    resets: target.resets,
    lost: target.lost,
    cpu_ms_per_event: target.cpu,
    ramp: ramp.map((p) => ({ rate: p.rate, p50: p.eventToSmtp.p50, p99: p.eventToSmtp.p99, refused: p.refused, lost: p.lost, cpu: p.cpu })),
    max_rate_p99_1s: maxRate,
    batch_events_per_s: Math.round(batch.perSecond),
    raw_insert_rows_per_s: Math.round(batch.rawRowsPerSecond),
    batch_ratio: round(batch.perSecond / batch.rawRowsPerSecond),
    pass,
  }),
);
