/**
 * Event-to-inbox latency: events are posted one per HTTP request at a fixed rate to a running
 * engine (`touchpoint serve` in its own process, on an embedded PostgreSQL), each starting an event campaign whose first step
 * has no wait; the time from the POST to the message arriving at a local SMTP server is measured.
 * The baseline is raw pooled nodemailer sending one message per tick to the same server.
 *
 *   npx tsx scripts/bench-events.ts [--rate 100] [--seconds 10] [--warmup 2]
 *
 * BENCH_TRACE=1 lists the slow events by start offset; SERVE_NODE_ARGS passes node flags to the
 * server (for example `--cpu-prof --cpu-prof-dir=/tmp/prof`), SERVE_LOG_LEVEL its log level.
 */
import { spawn } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { createApiKey } from '../src/access/keys.ts';
import { openDatabase } from '../src/db/index.ts';
import { setLogLevel } from '../src/log.ts';
import { seedLeads } from '../test/helpers/seed.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
  },
});
const RATE = Number(values.rate);
const N = RATE * Number(values.seconds);
/** Events sent first and not measured: the server's first requests pay for JIT and new connections. */
const WARMUP = RATE * Number(values.warmup);
setLogLevel('warn');

/** Arrival time per recipient address. */
const arrivals = new Map<string, number>();
const posts: number[] = [];
/** When the API answered each event, to tell request time from dispatch time. */
const answered = new Map<string, number>();
/** Requests answered 429 (intake at capacity) and sent again. */
let refused = 0;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  onRcptTo(address, _session, callback) {
    arrivals.set(address.address, performance.now());
    callback();
  },
  onData(stream, _session, callback) {
    // Arrival is taken at RCPT; the body is only drained, so the sink stays light under load.
    stream.on('end', () => callback());
    stream.resume();
  },
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const smtpPort = (server.server.address() as AddressInfo).port;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Fires `fire(i)` `count` times at RATE per second, on schedule even when earlier calls are slow. */
async function atFixedRate(fire: (i: number) => Promise<void>, count = N): Promise<void> {
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const wait = started + (i * 1000) / RATE - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(fire(i));
  }
  await Promise.all(pending);
}

async function waitForArrivals(addresses: string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  let missing = addresses.filter((a) => !arrivals.has(a));
  while (missing.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    missing = missing.filter((a) => !arrivals.has(a));
  }
  if (missing.length > 0) process.stderr.write(`${missing.length} of ${addresses.length} never arrived, e.g. ${missing[0]}\n`);
}

function latencies(starts: Map<string, number>): number[] {
  return [...starts].map(([address, start]) => (arrivals.get(address) ?? Infinity) - start).sort((a, b) => a - b);
}

async function raw(): Promise<number[]> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, pool: true, maxConnections: 10, ignoreTLS: true });
  const send = (to: string) => transport.sendMail({ from: 'bench@example.com', to, subject: 'Welcome', html: '<p>Hello</p>' });
  await atFixedRate(async (i) => void (await send(`raw-warm-${i}@example.com`)), WARMUP);
  const starts = new Map<string, number>();
  await atFixedRate(async (i) => {
    const to = `raw-${i}@example.com`;
    starts.set(to, performance.now());
    await send(to);
  });
  await waitForArrivals([...starts.keys()]);
  transport.close();
  return latencies(starts);
}

/** A free TCP port on loopback. */
async function freePort(): Promise<number> {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => probe.once('listening', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}

/** The engine runs as `touchpoint serve` in its own process, as in production. */
async function engine(): Promise<number[]> {
  const dataDir = path.resolve('var/bench');
  const database = await openDatabase({ dataDir, poolSize: 5 });
  const port = await freePort();
  const child = spawn(process.execPath, [...(process.env.SERVE_NODE_ARGS?.split(' ') ?? []), 'bin/touchpoint.js', 'serve'], {
    env: {
      ...process.env,
      DISPATCH_POLL_MS: process.env.DISPATCH_POLL_MS ?? '1000',
      DATABASE_URL: database.url,
      PORT: String(port),
      CAMPAIGNS_DIR: path.resolve('test/fixtures/events-http/campaigns'),
      TEMPLATES_DIR: path.resolve('test/fixtures/e2e/templates'),
      SMTP_URL: `smtp://127.0.0.1:${smtpPort}?ignore_tls=true`,
      LOG_LEVEL: process.env.SERVE_LOG_LEVEL ?? 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    const runId = Date.now();
    const lead = (phase: string, i: number) => `lat-${runId}-${phase}-${i}`;
    const leads = [...Array.from({ length: WARMUP }, (_, i) => lead('warm', i)), ...Array.from({ length: N }, (_, i) => lead('run', i))];
    await seedLeads(
      database,
      leads.map((id) => ({ id, email: `${id}@example.com`, first: 'L', locale: null, orders: 1, consent: ['grant', 'confirm'] as const })),
    );
    const key = (await createApiKey(database.pool, 'marketer', 'bench')).key;
    progress(`engine: ${leads.length} leads ready, waiting for the server`);
    const url = `http://127.0.0.1:${port}/api/v1/events`;
    for (let ready = false; !ready;) {
      ready = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (!ready) await new Promise((r) => setTimeout(r, 100));
    }
    const post = async (id: string, starts: Map<string, number>, measured: boolean) => {
      starts.set(`${id}@example.com`, performance.now());
      const send = () =>
        fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ id: `bench-${id}`, lead: id, event: 'signed_up', properties: {} }),
        });
      let res = await send();
      // Past EVENTS_MAX_IN_FLIGHT the server answers 429: a sender waits as told and sends again; the
      // event's latency still counts from its first attempt.
      while (res.status === 429) {
        refused++;
        await res.arrayBuffer();
        await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get('retry-after') ?? 1)));
        res = await send();
      }
      if (res.status !== 201) throw new Error(`event for ${id}: HTTP ${res.status} ${await res.text()}`);
      if (!measured) return;
      posts.push(performance.now() - starts.get(`${id}@example.com`)!);
      answered.set(`${id}@example.com`, performance.now());
    };
    progress(`engine: warming up with ${WARMUP} events`);
    const warm = new Map<string, number>();
    await atFixedRate((i) => post(lead('warm', i), warm, false), WARMUP);
    await waitForArrivals([...warm.keys()]);
    progress('engine: posting events');
    const starts = new Map<string, number>();
    await atFixedRate((i) => post(lead('run', i), starts, true));
    progress('engine: waiting for the last messages');
    await waitForArrivals([...starts.keys()]);
    if (process.env.BENCH_TRACE) {
      const t0 = Math.min(...starts.values());
      const slow = [...starts]
        .map(([a, s]) => [Math.round(s - t0), Math.round((arrivals.get(a) ?? Infinity) - s)])
        .filter(([, l]) => l! > 200);
      console.error('slow (start offset ms, latency ms):', JSON.stringify(slow));
    }
    return latencies(starts);
  } finally {
    progress('engine: stopping touchpoint serve');
    const exited = new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', r)));
    child.kill('SIGTERM');
    await exited;
    progress('engine: stopped');
    await database.close();
  }
}

const report = (name: string, l: number[]) =>
  `${name.padEnd(24)} p50 ${percentile(l, 50).toFixed(1).padStart(7)} ms   p99 ${percentile(l, 99).toFixed(1).padStart(7)} ms   max ${l[l.length - 1]!.toFixed(1).padStart(7)} ms`;

const progress = (what: string) => process.stderr.write(`${new Date().toISOString()} ${what}\n`);
progress('baseline: raw nodemailer');
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const baseline = await raw();
progress('engine: starting touchpoint serve');
arrivals.clear();
const measured = await engine();
server.close();
posts.sort((a, b) => a - b);
console.log(report('POST only', posts));
console.log(report('answer -> SMTP', latencies(answered)));
const lost = measured.filter((l) => !Number.isFinite(l)).length;
console.log(
  `bench process event-loop delay p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms, max ${(loopDelay.max / 1e6).toFixed(1)} ms`,
);
console.log(`${N} events at ${RATE}/s, one HTTP request each; ${refused} answered 429 and sent again after Retry-After`);
console.log(report('raw nodemailer (baseline)', baseline));
console.log(report('event -> SMTP (engine)', measured));
console.log(
  `p99 ratio engine/raw: ${(percentile(measured, 99) / percentile(baseline, 99)).toFixed(1)}x; target p99 < 1000 ms: ${percentile(measured, 99) < 1000 ? 'met' : 'MISSED'}${lost ? `; ${lost} never arrived` : ''}`,
);
