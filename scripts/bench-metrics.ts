/**
 * What observing costs at a million messages: fills a fresh embedded PostgreSQL with --messages rows
 * for 100,000 leads (INSERT … SELECT generate_series), all of one campaign occurrence (the largest
 * report there can be), and 100,000 inbound contacts of which a tenth answer its messages, then
 * times each query behind a /metrics scrape, the whole scrape over HTTP, and the campaign report
 * (GET /api/v1/campaigns/:id/report, every split, with 10,000 goal events to attribute) over HTTP
 * (median of --repeat), in two states of the outbox: a
 * history (2 % queued) and a backlog (every row queued and due). The scrape of before (a count of
 * the whole messages table) is timed beside it.
 *
 *   npm run bench:metrics -- [--messages 1000000] [--repeat 9]
 */
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { declaredStatements } from '../src/db/statement.ts';
import { openDatabase } from '../src/db/index.ts';
import { createApiKey } from '../src/access/keys.ts';
import { createEngine } from '../src/engine.ts';
import { createApp } from '../src/http/app.ts';
import { overdueContacts } from '../src/inbound/metrics.ts';
import { setLogLevel } from '../src/log.ts';
import { OUTBOX_COUNT_CAP, outboxGauges } from '../src/messages/metrics.ts';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '1000000' }, repeat: { type: 'string', default: '9' } } });
const N = Number(values.messages);
const REPEAT = Number(values.repeat);
const LEADS = 100_000;
const CONTACTS = 100_000;
const CAMPAIGN = 'spring-sale';
const OCCURRENCE = '2026-03';
setLogLevel('warn');
const progress = (what: string) => process.stderr.write(`${new Date().toISOString()} ${what}\n`);

const dataDir = path.resolve(`var/bench-metrics-${process.pid}`);
const server = await startEmbeddedPostgres(dataDir, 'touchpoint_bench');
const database = await openDatabase({ databaseUrl: server.url, dataDir, poolSize: 20 });
const { pool } = database;

async function timed<T>(work: () => Promise<T>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** Median and slowest of `REPEAT` runs (after one to warm the cache), in milliseconds. */
async function measure(work: () => Promise<unknown>): Promise<{ median: number; max: number }> {
  await work();
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) times.push(await timed(work));
  times.sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return { median: round(times[Math.floor(times.length / 2)]!), max: round(times[times.length - 1]!) };
}

progress(`filling ${N.toLocaleString('en')} messages, ${LEADS.toLocaleString('en')} leads, ${CONTACTS.toLocaleString('en')} contacts`);
const fillMs = await timed(async () => {
  await pool.query(
    `INSERT INTO leads (external_id, email, first_name, tags)
     SELECT 'lead-' || i, 'lead-' || i || '@example.com', 'L' || i, '{customer}' FROM generate_series(1, $1) AS i`,
    [LEADS],
  );
  // 2 % queued (half due, half later), 0.1 % being sent, the rest history: sent, suppressed, failed.
  await pool.query(
    `INSERT INTO messages (idempotency_key, campaign_id, step_id, occurrence, lead_id, channel, purpose, persona, status, reason,
                           to_address, subject, body_text, body_html, due_at, created_at, sent_at, attempts)
     SELECT 'bench:' || i, $3, 'offer', $4, 1 + i % $2, CASE WHEN i % 10 = 0 THEN 'sms' ELSE 'email' END,
            'marketing', 'regular', s.status, CASE WHEN s.status = 'suppressed' THEN 'no_consent' WHEN s.status = 'failed' THEN 'rejected' END,
            'lead-' || (1 + i % $2) || '@example.com', 'Hello', 'Hello there', '<p>Hello there</p>',
            now() - make_interval(secs => ($1 - i) * 0.5) + CASE WHEN s.status = 'queued' AND i % 2 = 0 THEN interval '1 day' ELSE interval '0' END,
            now() - make_interval(secs => ($1 - i) * 0.5),
            CASE WHEN s.status = 'sent' THEN now() - make_interval(secs => ($1 - i) * 0.5) END, 1
       FROM generate_series(1, $1) AS i,
            LATERAL (SELECT CASE WHEN i % 50 = 0 THEN 'queued' WHEN i % 1000 = 1 THEN 'sending' WHEN i % 25 = 3 THEN 'suppressed'
                                 WHEN i % 100 = 7 THEN 'failed' ELSE 'sent' END AS status) s`,
    [N, LEADS, CAMPAIGN, OCCURRENCE],
  );
  await pool.query(`UPDATE messages SET claimed_by = 1 WHERE status = 'sending'`);
  // Closed replies are the history; 1,000 are open, half of them past their due time.
  await pool.query(
    `INSERT INTO inbound_contacts (channel, external_id, kind, lead_id, message_id, campaign_id, from_address, text, body_text, category, priority, queue,
                                   status, due_at, received_at, closed_at)
     SELECT 'email', '<r' || i || '@mail.example>', CASE WHEN i % 7 = 0 THEN 'auto-reply' ELSE 'human' END, 1 + i % $2,
            CASE WHEN i % 10 = 0 THEN i * 5 END, CASE WHEN i % 10 = 0 THEN $3 END, 'lead-' || (1 + i % $2) || '@example.com', 'thanks', 'thanks',
            CASE WHEN i % 3 = 0 THEN 'complaint' ELSE 'question' END, 'normal', CASE WHEN i % 3 = 0 THEN 'sales' ELSE 'service' END, CASE WHEN i <= 1000 THEN 'new' ELSE 'closed' END,
            now() + CASE WHEN i <= 500 THEN interval '-1 hour' ELSE interval '1 hour' END, now() - interval '2 hours',
            CASE WHEN i > 1000 THEN now() END
       FROM generate_series(1, $1) AS i`,
    [CONTACTS, LEADS, CAMPAIGN],
  );
  // A tenth of the leads bought during the campaign: the report attributes them to the messages before.
  await pool.query(
    `INSERT INTO events (lead_id, name, occurred_at) SELECT 1 + i * 10, 'purchase', now() - make_interval(secs => i * 40) FROM generate_series(0, $1 - 1) AS i`,
    [LEADS / 10],
  );
  await pool.query('VACUUM ANALYZE messages, inbound_contacts, events');
});
progress(`filled in ${(fillMs / 1000).toFixed(1)} s`);

/** The observe fixture's campaigns and the benchmark's own, whose goal the report attributes. */
function campaignsDir(): string {
  const dir = path.join(dataDir, 'campaigns');
  fs.cpSync(path.resolve('test/fixtures/observe/campaigns'), dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, `${CAMPAIGN}.yaml`),
    `id: ${CAMPAIGN}\nname: Spring sale\nkind: lead\npurpose: marketing\naudience: { tags: [customer] }\n` +
      `goal: { event: purchase, within: 7d }\nsteps:\n  - id: offer\n    channel: email\n    template: offer\n`,
  );
  return dir;
}

const config = loadConfig({
  DATABASE_URL: server.url,
  TOUCHPOINT_DATA_DIR: dataDir,
  CAMPAIGNS_DIR: campaignsDir(),
  TEMPLATES_DIR: path.resolve('test/fixtures/observe/templates'),
  LOG_LEVEL: 'warn',
});
const engine = await createEngine(config, database);
const agenda = await engine.startScheduler();
const http = createApp(engine).listen(0, '127.0.0.1');
await new Promise((resolve) => http.once('listening', resolve));
const baseUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
const metricsUrl = `${baseUrl}/metrics`;
const reportUrl = `${baseUrl}/api/v1/campaigns/${CAMPAIGN}/report`;
const { key } = await createApiKey(pool, 'marketer', 'bench');
const report = async () => {
  const res = await fetch(reportUrl, { headers: { authorization: `Bearer ${key}` } });
  if (res.status !== 200) throw new Error(`the report answered ${res.status}: ${await res.text()}`);
  return res.json();
};

const statementText = (name: string) => declaredStatements().get(name)!;

/** The query plan's node types and its execution time, to show which index each part uses. */
async function plan(sql: string, params: unknown[]): Promise<string> {
  const { rows } = await pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) ${sql}`, params);
  const lines = rows.map((r) => r['QUERY PLAN']);
  const scans = [
    ...new Set(
      lines
        .filter((l) => /Scan/.test(l))
        .map((l) =>
          l
            .trim()
            .replace(/^->\s*/, '')
            .replace(/ \(.*$/, ''),
        ),
    ),
  ];
  return `${scans.join('; ')} | ${lines.find((l) => l.startsWith('Execution Time')) ?? ''}`;
}

interface StateFigures {
  queued: number;
  outboxGaugesMs: { median: number; max: number };
  overdueContactsMs: { median: number; max: number };
  agendaJobsMs: { median: number; max: number };
  engineScrapeMs: { median: number; max: number };
  scrapeMs: { median: number; max: number };
  scrapeBytes: number;
  oldScrapeMs: { median: number; max: number };
  reportMs: { median: number; max: number };
}

async function measureState(name: string): Promise<StateFigures> {
  const now = new Date();
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM messages WHERE status = 'queued'`);
  const figures: StateFigures = {
    queued: rows[0]!.n,
    outboxGaugesMs: await measure(() => outboxGauges(pool, new Date())),
    overdueContactsMs: await measure(() => overdueContacts(pool, new Date())),
    agendaJobsMs: await measure(() => agenda.getJobsOverview()),
    engineScrapeMs: await measure(() => engine.metrics()),
    scrapeMs: await measure(async () => (await fetch(metricsUrl)).text()),
    scrapeBytes: (await (await fetch(metricsUrl)).text()).length,
    // What /metrics ran on every scrape before: every row of both tables counted.
    oldScrapeMs: await measure(() =>
      Promise.all([
        pool.query(`SELECT status, channel, count(*)::int AS n FROM messages GROUP BY status, channel ORDER BY 1, 2`),
        pool.query(`SELECT status, count(*)::int AS n FROM campaign_runs GROUP BY status ORDER BY 1`),
      ]),
    ),
    reportMs: await measure(report),
  };
  console.log(`\n${name}: ${N.toLocaleString('en')} messages, ${figures.queued.toLocaleString('en')} queued`);
  console.log(`  outbox gauges (due, scheduled, sending, oldest due)  ${fmt(figures.outboxGaugesMs)}`);
  for (const [part, sql] of [
    ['due', `SELECT count(*) FROM (SELECT 1 FROM messages WHERE status = 'queued' AND due_at <= $1 LIMIT ${OUTBOX_COUNT_CAP}) due`],
    ['scheduled', `SELECT count(*) FROM (SELECT 1 FROM messages WHERE status = 'queued' AND due_at > $1 LIMIT ${OUTBOX_COUNT_CAP}) later`],
    ['due, all', `SELECT count(*) FROM messages WHERE status = 'queued' AND due_at <= $1`],
    ['sending', `SELECT count(*) FROM messages WHERE status = 'sending' AND $1::timestamptz IS NOT NULL`],
    ['oldest due', `SELECT min(due_at) FROM messages WHERE status = 'queued' AND $1::timestamptz IS NOT NULL`],
  ] as const) {
    console.log(`    ${part.padEnd(10)} ${await plan(sql, [now])}`);
  }
  console.log(`  overdue contacts by queue                             ${fmt(figures.overdueContactsMs)}`);
  console.log(
    `    ${await plan(`SELECT coalesce(queue, '') AS queue, count(*) FROM inbound_contacts WHERE status IN ('new', 'assigned') AND due_at <= $1 GROUP BY 1`, [now])}`,
  );
  console.log(`  Agenda jobs by name and state                         ${fmt(figures.agendaJobsMs)}`);
  console.log(`  whole scrape in the process (every series)           ${fmt(figures.engineScrapeMs)}`);
  console.log(`  whole scrape over HTTP (${figures.scrapeBytes.toLocaleString('en')} bytes)             ${fmt(figures.scrapeMs)}`);
  console.log(`  before: counting the messages table per scrape        ${fmt(figures.oldScrapeMs)}`);
  console.log(`  campaign report over HTTP (${N.toLocaleString('en')} messages)          ${fmt(figures.reportMs)}`);
  console.log(`    ${JSON.stringify(await report())}`);
  for (const [part, sql, params] of [
    ['counts', statementText('campaigns.report-counts'), [CAMPAIGN, null]],
    ['replies', statementText('campaigns.report-replies'), [CAMPAIGN, null]],
    ['opt-outs', statementText('campaigns.report-opt-outs'), [CAMPAIGN, null]],
    ['conversions', statementText('campaigns.report-conversions'), [CAMPAIGN, null, 'purchase', 7 * 86_400_000]],
  ] as const) {
    console.log(`    ${part.padEnd(10)} ${await plan(sql, [...params])}`);
  }
  return figures;
}

function fmt(t: { median: number; max: number }): string {
  return `median ${t.median.toFixed(2)} ms, slowest ${t.max.toFixed(2)} ms`;
}

/**
 * A campaign sent while nobody read its report leaves about 0.7 count delta a message (bench:scale
 * counts them): adds that many to the history (pairs that cancel, so the figures stay) and times
 * the first report, which sums them all and folds the first batch, then the reports after it.
 */
async function unfoldedReport(): Promise<{ deltas: number; firstMs: number; nextMs: { median: number; max: number } }> {
  const deltas = Math.round(N * 0.7);
  await pool.query(
    `INSERT INTO message_counts (campaign_id, occurrence, state, reason, possible_duplicate, step_id, persona, channel, day, delivered, lead_id, n)
     SELECT $1, $2, 'sent', NULL, false, 'offer', 'regular', 'email', current_date, true, 1 + i % $4, CASE WHEN i % 2 = 0 THEN 1 ELSE -1 END
       FROM generate_series(1, $3) AS i`,
    [CAMPAIGN, OCCURRENCE, deltas, LEADS],
  );
  await pool.query('VACUUM ANALYZE message_counts');
  const firstMs = await timed(report);
  const nextMs = await measure(report);
  console.log(
    `  report after ${deltas.toLocaleString('en')} count deltas: first ${firstMs.toFixed(0)} ms (sums them, folds a batch), then ${fmt(nextMs)}`,
  );
  return { deltas, firstMs: Math.round(firstMs), nextMs };
}

try {
  const history = await measureState('history');
  const unfolded = await unfoldedReport();

  progress('queueing every message (a backlog of the whole table)');
  await pool.query(`UPDATE messages SET status = 'queued', claimed_by = NULL, due_at = now() - make_interval(secs => id % 3600)`);
  await pool.query('VACUUM ANALYZE messages');
  const backlog = await measureState('backlog');

  console.log(
    JSON.stringify({
      bench: 'metrics',
      messages: N,
      repeat: REPEAT,
      fill_s: Math.round(fillMs / 100) / 10,
      history,
      backlog,
      unfolded_report: unfolded,
      // Every query behind the scrape within 50 ms and the report within a second at a million rows, in both states.
      pass:
        Math.max(...[history, backlog].flatMap((s) => [s.outboxGaugesMs.median, s.overdueContactsMs.median, s.agendaJobsMs.median])) <=
          50 && Math.max(...[history, backlog].map((s) => s.reportMs.median), unfolded.firstMs, unfolded.nextMs.median) <= 1000,
    }),
  );
} finally {
  http.close();
  await engine.stop();
  await database.close();
  await server.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
