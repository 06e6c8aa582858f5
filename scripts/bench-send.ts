/**
 * Sending throughput: the engine (record a run, dispatch through pooled SMTP) against raw pooled
 * nodemailer to the same local SMTP server (in its own process), measured in the same run and
 * printed as a ratio.
 *
 *   npm run bench:send -- [--messages 5000] [--concurrency 10]
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/index.ts';
import { requireCampaign } from '../src/campaigns/load.ts';
import { createEngine } from '../src/engine.ts';
import { deliverySummary, isSettled } from '../src/messages/report.ts';
import { setLogLevel } from '../src/log.ts';
import { seedLeads } from '../test/helpers/seed.ts';
import { rawNodemailer, startSmtpProcess } from './bench/smtp.ts';

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '5000' }, concurrency: { type: 'string', default: '10' } },
});
const N = Number(values.messages);
const CONCURRENCY = Number(values.concurrency);
setLogLevel('warn');

// The SMTP server runs in its own process, as a provider does: in this one it would slow the raw
// baseline down to the engine's pace and flatter the ratio.
const benchDir = path.resolve('var/bench');
fs.mkdirSync(benchDir, { recursive: true });
const { port, process: smtp } = await startSmtpProcess(benchDir, path.join(benchDir, `smtp-record-${process.pid}.jsonl`));

async function engine(): Promise<{ recordRate: number; sendRate: number }> {
  const dataDir = path.resolve('var/bench');
  const config = loadConfig({
    TOUCHPOINT_DATA_DIR: dataDir,
    CAMPAIGNS_DIR: path.resolve('test/fixtures/e2e/campaigns'),
    TEMPLATES_DIR: path.resolve('test/fixtures/e2e/templates'),
    SMTP_URL: `smtp://127.0.0.1:${port}?ignore_tls=true`,
    DISPATCH_CONCURRENCY: String(CONCURRENCY),
    DISPATCH_POLL_MS: '50',
    LOG_LEVEL: 'warn',
  });
  const database = await openDatabase({ dataDir, poolSize: 20 });
  await database.pool.query('TRUNCATE messages, campaign_runs CASCADE');
  const eng = await createEngine(config, database);
  try {
    const existing = await database.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM leads WHERE external_id LIKE 'bench-%'`);
    if (existing.rows[0]!.n < N) {
      const leads = Array.from({ length: N }, (_, i) => ({
        id: `bench-${i}`,
        email: `bench-${i}@example.com`,
        first: `B${i}`,
        locale: null,
        orders: i % 20,
        consent: ['grant', 'confirm'] as const,
      }));
      for (let i = 0; i < leads.length; i += 1000) await seedLeads(database, leads.slice(i, i + 1000));
    }
    const set = eng.loadCampaigns();
    const occurrence = `bench-${Date.now()}`;
    const started = performance.now();
    const { counts } = await eng.run(requireCampaign(set, 'spring'), set, { occurrence, trigger: 'manual' });
    const recorded = performance.now();
    await eng.startDispatcher();
    for (;;) {
      const summary = await deliverySummary(database.pool, 'spring', occurrence, new Date());
      if (isSettled(summary)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const done = performance.now();
    return { recordRate: counts.queued / ((recorded - started) / 1000), sendRate: counts.queued / ((done - recorded) / 1000) };
  } finally {
    await eng.stop();
    await database.close();
  }
}

let rawRate: number;
let recordRate: number;
let sendRate: number;
try {
  rawRate = await rawNodemailer(port, N, CONCURRENCY);
  ({ recordRate, sendRate } = await engine());
} finally {
  await smtp.stop();
  fs.rmSync(path.join(benchDir, `smtp-record-${process.pid}.jsonl`), { force: true });
}
const fmt = (n: number) => n.toFixed(0).padStart(6);
console.log(`messages: ${N}, SMTP connections: ${CONCURRENCY}`);
console.log(`raw pooled nodemailer   ${fmt(rawRate)} msg/s  (baseline)`);
console.log(`engine: record run      ${fmt(recordRate)} msg/s  (consent check + render + insert)`);
console.log(`engine: dispatch        ${fmt(sendRate)} msg/s  ratio ${(sendRate / rawRate).toFixed(2)} of raw`);
