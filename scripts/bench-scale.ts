/**
 * A million leads on one box (issue 13): the whole life of a big campaign, as a user runs it, with
 * every figure of the issue's table against its target.
 *
 *   npm run bench:scale -- --n 1000000 [--raw-n 100000] [--workers 0] [--profile DIR] [--keep]
 *
 * Deploys like the fault drills do (scripts/drills/lib): an SMTP server in its own process,
 * `touchpoint serve` on an embedded PostgreSQL of its own under var/drills/bench-scale-<pid>. Then:
 * generates the data (n leads as a CRM export, their consent history with confirmed email consent
 * for 37 in 40, a one-step campaign with persona and locale variants), runs `leads import`,
 * `consent import`, `consent verify`, `plan --json --out`, the raw nodemailer baseline (raw-n
 * messages, 10 pooled connections, to the same server) and `run`, whose messages serve's
 * dispatcher sends; it follows the SMTP server's record to the last acceptance. Prints a table
 * and, last, one JSON line with every figure and `"pass"`. `--workers N` starts N `touchpoint
 * worker` processes beside serve (N + 1 dispatchers on one database) and checks that no recipient
 * was sent the campaign twice.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Deployment } from './drills/lib/deployment.ts';
import { processesUnder, sleep } from './drills/lib/processes.ts';
import { CAMPAIGN, generateData } from './bench/data.ts';
import { AcceptedCount, RssSampler, statusMb, timedCli } from './bench/measure.ts';
import { rawNodemailer } from './bench/smtp.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    'raw-n': { type: 'string' },
    connections: { type: 'string', default: '10' },
    profile: { type: 'string' },
    keep: { type: 'boolean', default: false },
    workers: { type: 'string', default: '0' },
    timeout: { type: 'string', default: '90' },
  },
});
const N = Number(values.n);
const RAW_N = Number(values['raw-n'] ?? Math.min(N, 100_000));
const CONNECTIONS = Number(values.connections);
const TIMEOUT_MS = Number(values.timeout) * 60_000;
const WORKERS = Number(values.workers);
if (!Number.isInteger(N) || N < 100) throw new Error('--n must be a whole number of at least 100');
if (!Number.isInteger(WORKERS) || WORKERS < 0) throw new Error('--workers must be a whole number');

/** The issue's targets. */
const TARGETS = {
  leadsImportRowsPerS: 50_000,
  importRssMb: 300,
  consentImportEventsPerS: 50_000,
  planSeconds: 20,
  planRssMb: 300,
  recordingPerS: 15_000,
  dispatchVsRaw: 0.9,
  campaignVsRaw: 0.75,
  serveRssMb: 300,
};

const started = performance.now();
const progress = (what: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(7)} s] ${what}\n`);
const round = (x: number, digits = 0) => Number(x.toFixed(digits));

const d = await Deployment.create({ drill: 'bench-scale', workers: WORKERS, latencyMs: 0 });
let tornDown = false;
const teardown = async () => {
  if (tornDown) return;
  tornDown = true;
  await d.teardown(values.keep);
};
process.once('SIGINT', () => void teardown().finally(() => process.exit(130)));

const env = { ...d.env(), DISPATCH_CONCURRENCY: String(CONNECTIONS) };
// One folder per command: the CLI's main thread and tsx's loader thread each write a profile.
const profileArgs = (name: string) => (values.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values.profile, name)}`] : []);
const cli = (name: string, args: string[]) => timedCli(args, { cwd: d.root, env, nodeArgs: profileArgs(name) });
const loadAtStart = os.loadavg().map((l) => round(l, 2));

try {
  progress(`generating ${N} leads under ${d.root}`);
  // Into the deployment's own campaigns/ and templates/, which serve reads.
  const data = generateData(d.root, N);
  await d.startSmtp();
  await d.startServe();
  if (WORKERS > 0) {
    progress(`starting ${WORKERS} worker(s)`);
    await d.startWorkers();
  }
  const servePid = d.serve.pid!;
  const accepted = new AcceptedCount(path.join(d.root, 'smtp-record.jsonl'));

  progress('leads import');
  const leads = await cli('leads-import', ['leads', 'import', data.leadsFile]);
  progress(`  ${leads.seconds.toFixed(1)} s, ${(N / leads.seconds).toFixed(0)} rows/s, peak RSS ${leads.peakRssMb} MB`);

  progress(`consent import (${data.consentEvents} events)`);
  const consents = await cli('consent-import', ['consent', 'import', data.consentsFile]);
  progress(`  ${consents.seconds.toFixed(1)} s, ${(data.consentEvents / consents.seconds).toFixed(0)} events/s`);
  const verify = await cli('consent-verify', ['consent', 'verify']);
  const chainIntact = /^ledger intact/m.test(verify.stdout);
  progress(`  consent verify: ${chainIntact ? 'intact' : 'BROKEN'} in ${verify.seconds.toFixed(1)} s`);

  progress('plan --json --out');
  const planFile = path.join(d.root, 'plan.json');
  const plan = await cli('plan', ['plan', CAMPAIGN, '--json', '--out', planFile]);
  const planBytes = fs.statSync(planFile).size;
  progress(`  ${plan.seconds.toFixed(1)} s, peak RSS ${plan.peakRssMb} MB, ${(planBytes / 1e6).toFixed(0)} MB of JSON`);
  fs.rmSync(planFile);

  progress(`raw pooled nodemailer: ${RAW_N} messages over ${CONNECTIONS} connections`);
  accepted.mark();
  const rawBefore = await rawNodemailer(d.smtpPort, RAW_N, CONNECTIONS);
  progress(`  ${rawBefore.toFixed(0)} msg/s`);

  progress(`run (${WORKERS > 0 ? `serve and ${WORKERS} worker(s) dispatch` : 'serve dispatches'} while the run records)`);
  accepted.mark(true);
  const serveRss = new RssSampler(() => [servePid]);
  const postgresRss = new RssSampler(() => processesUnder(d.dataDir));
  const runStarted = performance.timeOrigin + performance.now();
  const run = await cli('run', ['run', CAMPAIGN, '--yes']);
  const recordedAt = performance.timeOrigin + performance.now();
  const queued = Number(/first step: (\d+) queued/.exec(run.stderr)?.[1] ?? NaN);
  const atRecorded = accepted.update().accepted;
  progress(
    `  recorded ${queued} in ${run.seconds.toFixed(1)} s (${(queued / run.seconds).toFixed(0)} msg/s); ${atRecorded} sent meanwhile`,
  );
  const deadline = Date.now() + TIMEOUT_MS;
  let lastReport = Date.now();
  while (accepted.update().accepted < queued) {
    if (Date.now() > deadline) throw new Error(`timed out: ${accepted.accepted} of ${queued} accepted`);
    if (!d.serve.alive) throw new Error(`serve exited; see ${d.logsDir}/serve.log`);
    if (Date.now() - lastReport > 30_000) {
      lastReport = Date.now();
      progress(`  ${accepted.accepted} of ${queued} accepted`);
    }
    await sleep(250);
  }
  // A second copy would arrive right after the first ones: look once more before judging.
  await sleep(2_000);
  accepted.update();
  const serveMem = serveRss.stop();
  const postgresMem = postgresRss.stop();
  const lastAccepted = accepted.last!;
  const doubleSends = accepted.duplicates;
  const smtpAccepted = accepted.accepted;
  // The machine's load moves during a long send (other processes come and go): the baseline is
  // measured again right after it, and the engine is compared with the mean of the two.
  progress(`raw pooled nodemailer again: ${RAW_N} messages over ${CONNECTIONS} connections`);
  accepted.mark();
  const rawAfter = await rawNodemailer(d.smtpPort, RAW_N, CONNECTIONS);
  progress(`  ${rawAfter.toFixed(0)} msg/s`);
  const rawRate = (rawBefore + rawAfter) / 2;
  const campaignSeconds = (lastAccepted - runStarted) / 1000;
  // Dispatch of recorded messages: the backlog the run left, sent by serve alone.
  const backlog = queued - atRecorded;
  const dispatchRate = backlog / ((lastAccepted - recordedAt) / 1000);
  const campaignRate = queued / campaignSeconds;
  progress(`  last acceptance ${campaignSeconds.toFixed(1)} s after the run started; dispatch ${dispatchRate.toFixed(0)} msg/s`);

  const [storage] = await d.db.query<{
    messages: number;
    bytes: number;
    leads_bytes: number;
    leads: number;
    events_bytes: number;
    events: number;
  }>(
    `SELECT (SELECT count(*) FROM messages)::int AS messages, pg_total_relation_size('messages')::float8 AS bytes,
            (SELECT count(*) FROM leads)::int AS leads, pg_total_relation_size('leads')::float8 AS leads_bytes,
            (SELECT count(*) FROM consent_events)::int AS events, pg_total_relation_size('consent_events')::float8 AS events_bytes`,
  );
  // Where a message's bytes are: the row (heap), TOAST (long bodies), and each index.
  const parts = await d.db.query<{ part: string; bytes: number }>(
    `SELECT 'heap' AS part, pg_relation_size('messages')::float8 AS bytes
     UNION ALL SELECT 'toast', (pg_table_size('messages') - pg_relation_size('messages'))::float8
     UNION ALL SELECT indexrelname::text, pg_relation_size(indexrelid)::float8 FROM pg_stat_user_indexes WHERE relname = 'messages'`,
  );
  const bytesPerMessageByPart = Object.fromEntries(parts.map((p) => [p.part, round(p.bytes / Math.max(1, storage!.messages))]));
  // What a live row holds (stored sizes, after compression), and the dead row versions its updates left.
  const [rowSizes] = await d.db.query<{
    row: number;
    body_html: number;
    body_text: number;
    headers: number;
    dead: number;
    count_deltas: number;
  }>(
    `SELECT avg(pg_column_size(m.*))::int AS row, avg(pg_column_size(body_html))::int AS body_html,
            avg(pg_column_size(body_text))::int AS body_text, avg(pg_column_size(headers))::int AS headers,
            (SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'messages')::int AS dead,
            (SELECT count(*) FROM message_counts)::int AS count_deltas
       FROM messages m`,
  );
  // Which dispatcher sent how many (each process's worker id), and the engine's own view of duplicates.
  const senders = await d.db.query<{ worker: string; n: number }>(
    `SELECT claimed_by::text AS worker, count(*)::int AS n FROM messages WHERE status = 'sent' GROUP BY 1 ORDER BY 2 DESC`,
  );
  const [flags] = await d.db.query<{ possible_duplicates: number }>(
    `SELECT count(*)::int AS possible_duplicates FROM messages WHERE possible_duplicate`,
  );
  const smtpRss = statusMb(d.smtp.pid!, 'VmHWM') ?? 0;
  const serveHwm = statusMb(servePid, 'VmHWM') ?? 0;

  const figures = {
    n: N,
    consent_events: data.consentEvents,
    messages: queued,
    leads_import_s: round(leads.seconds, 1),
    leads_import_rows_per_s: round(N / leads.seconds),
    leads_import_peak_rss_mb: leads.peakRssMb,
    consent_import_s: round(consents.seconds, 1),
    consent_import_events_per_s: round(data.consentEvents / consents.seconds),
    consent_import_peak_rss_mb: consents.peakRssMb,
    consent_chain_intact: chainIntact,
    consent_verify_s: round(verify.seconds, 1),
    plan_s: round(plan.seconds, 1),
    plan_peak_rss_mb: plan.peakRssMb,
    plan_json_mb: round(planBytes / 1e6),
    raw_messages: RAW_N,
    raw_msg_per_s: round(rawRate),
    raw_msg_per_s_before: round(rawBefore),
    raw_msg_per_s_after: round(rawAfter),
    recording_s: round(run.seconds, 1),
    recording_msg_per_s: round(queued / run.seconds),
    run_peak_rss_mb: run.peakRssMb,
    sent_while_recording: atRecorded,
    dispatch_msg_per_s: round(dispatchRate),
    dispatch_vs_raw: round(dispatchRate / rawRate, 2),
    campaign_s: round(campaignSeconds, 1),
    campaign_msg_per_s: round(campaignRate),
    raw_s_for_campaign: round(queued / rawRate, 1),
    campaign_vs_raw: round(campaignRate / rawRate, 2),
    workers: WORKERS,
    dispatchers: WORKERS + 1,
    sent_by_dispatcher: senders.map((s) => s.n),
    smtp_accepted: smtpAccepted,
    double_sends: doubleSends,
    possible_duplicates: flags!.possible_duplicates,
    serve_peak_rss_during_send_mb: serveMem.peakMb,
    serve_peak_rss_mb: Math.round(serveHwm),
    smtp_server_peak_rss_mb: Math.round(smtpRss),
    postgres_peak_rss_one_process_mb: postgresMem.peakMb,
    postgres_peak_rss_all_processes_mb: postgresMem.peakSumMb,
    bench_peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    bytes_per_message: round(storage!.bytes / Math.max(1, storage!.messages)),
    bytes_per_message_by_part: bytesPerMessageByPart,
    message_row_bytes: rowSizes,
    messages_table_mb: round(storage!.bytes / 1e6),
    bytes_per_lead: round(storage!.leads_bytes / Math.max(1, storage!.leads)),
    bytes_per_consent_event: round(storage!.events_bytes / Math.max(1, storage!.events)),
    machine: {
      cores: os.cpus().length,
      memory_gb: round(os.totalmem() / 2 ** 30, 1),
      load_at_start: loadAtStart,
      load_at_end: os.loadavg().map((l) => round(l, 2)),
    },
    date: new Date().toISOString(),
  };
  const checks = {
    leads_import: figures.leads_import_rows_per_s >= TARGETS.leadsImportRowsPerS && figures.leads_import_peak_rss_mb <= TARGETS.importRssMb,
    consent_import: figures.consent_import_events_per_s >= TARGETS.consentImportEventsPerS && chainIntact,
    plan: figures.plan_s <= TARGETS.planSeconds && figures.plan_peak_rss_mb <= TARGETS.planRssMb,
    recording: figures.recording_msg_per_s >= TARGETS.recordingPerS,
    dispatch: figures.dispatch_vs_raw >= TARGETS.dispatchVsRaw,
    campaign: figures.campaign_vs_raw >= TARGETS.campaignVsRaw,
    serve_rss: figures.serve_peak_rss_during_send_mb <= TARGETS.serveRssMb,
    no_double_sends: figures.double_sends === 0 && figures.smtp_accepted === queued,
  };
  const row = (work: string, now: string, target: string, ok: boolean) =>
    `${work.padEnd(44)} ${now.padEnd(40)} ${target.padEnd(28)} ${ok ? 'ok' : 'MISSED'}`;
  console.log(
    `\nA million leads on one box: n = ${N}, ${figures.machine.cores} cores, ${figures.machine.memory_gb} GB, load ${loadAtStart.join(' ')}\n`,
  );
  console.log(row('work', 'measured', 'target', true).replace(/ok$/, ''));
  console.log(
    row(
      'leads import',
      `${figures.leads_import_s} s (${figures.leads_import_rows_per_s} rows/s), ${figures.leads_import_peak_rss_mb} MB`,
      '≥ 50,000 rows/s, ≤ 300 MB',
      checks.leads_import,
    ),
  );
  console.log(
    row(
      `consent import (${data.consentEvents} events)`,
      `${figures.consent_import_s} s (${figures.consent_import_events_per_s} events/s), chain ${chainIntact ? 'intact' : 'BROKEN'}`,
      '≥ 50,000 events/s, intact',
      checks.consent_import,
    ),
  );
  console.log(row('plan --json', `${figures.plan_s} s, ${figures.plan_peak_rss_mb} MB`, '≤ 20 s, ≤ 300 MB', checks.plan));
  console.log(row('recording a run', `${figures.recording_msg_per_s} msg/s`, '≥ 15,000 msg/s', checks.recording));
  console.log(
    row(
      'dispatch vs raw nodemailer',
      `${figures.dispatch_msg_per_s} vs ${figures.raw_msg_per_s} msg/s = ${figures.dispatch_vs_raw}`,
      '≥ 0.9',
      checks.dispatch,
    ),
  );
  console.log(
    row(
      'whole campaign, run → last acceptance, vs raw',
      `${queued} in ${figures.campaign_s} s vs ${figures.raw_s_for_campaign} s = ${figures.campaign_vs_raw}`,
      '≥ 0.75',
      checks.campaign,
    ),
  );
  console.log(row('serve peak RSS during the send', `${figures.serve_peak_rss_during_send_mb} MB`, '≤ 300 MB', checks.serve_rss));
  console.log(`\nraw nodemailer: ${figures.raw_msg_per_s_before} msg/s before the run, ${figures.raw_msg_per_s_after} after the send`);
  console.log(
    `dispatchers: serve${WORKERS > 0 ? ` and ${WORKERS} worker(s)` : ''}, sent ${figures.sent_by_dispatcher.join(' + ')}; ` +
      `${figures.smtp_accepted} accepted for ${queued} queued, ${figures.double_sends} recipients sent twice, ${figures.possible_duplicates} flagged possible_duplicate`,
  );
  console.log(
    `peak RSS: leads import ${figures.leads_import_peak_rss_mb} MB, consent import ${figures.consent_import_peak_rss_mb} MB, plan ${figures.plan_peak_rss_mb} MB, ` +
      `run ${figures.run_peak_rss_mb} MB, serve ${figures.serve_peak_rss_mb} MB, SMTP server ${figures.smtp_server_peak_rss_mb} MB, ` +
      `PostgreSQL ${figures.postgres_peak_rss_one_process_mb} MB (one process; all together ${figures.postgres_peak_rss_all_processes_mb} MB, shared buffers counted in each)`,
  );
  console.log(
    `storage: ${figures.bytes_per_message} bytes per message (row, indexes, TOAST), ${figures.bytes_per_lead} per lead, ${figures.bytes_per_consent_event} per consent event`,
  );
  console.log(
    `  per message: ${Object.entries(bytesPerMessageByPart)
      .map(([part, bytes]) => `${part} ${bytes}`)
      .join(
        ', ',
      )}; a live row ${rowSizes!.row} (body_html ${rowSizes!.body_html}, body_text ${rowSizes!.body_text}, headers ${rowSizes!.headers}), ${rowSizes!.dead} dead row versions; ${rowSizes!.count_deltas} rows of report counts`,
  );
  console.log(JSON.stringify({ ...figures, targets: TARGETS, checks, pass: Object.values(checks).every(Boolean) }));
} finally {
  await teardown();
}
process.exit(0);
