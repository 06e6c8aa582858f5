import { expect } from 'chai';
import pg from 'pg';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { settled, testEngine, until, type TestEngine } from '../helpers/engine.ts';
import { confirmedLeads, seedLeads } from '../helpers/seed.ts';
import { recipient, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const LEADS = 200;
const LANES = 3;

/** An admin connection to the test server, for taking one database away and giving it back. */
async function admin(url: string): Promise<pg.Client> {
  const server = new URL(url);
  server.pathname = '/postgres';
  const client = new pg.Client({ connectionString: server.toString() });
  await client.connect();
  return client;
}

describe('the database going away under a dispatcher', function () {
  this.timeout(90_000);
  let t: TestEngine;
  let sink: SmtpSink;

  before(async () => {
    sink = await startSmtpSink({ delayMs: 30 });
    t = await testEngine({ SMTP_URL: sink.url, DISPATCH_CONCURRENCY: String(LANES), DISPATCH_BATCH_SIZE: '50' });
    await seedLeads(t.database, confirmedLeads(LEADS, 'd'));
  });
  after(async () => {
    await t.close();
    await sink.close();
  });

  it('starts nothing while it is away, keeps what it sent, and goes on once it is back', async () => {
    await t.engine.startDispatcher();
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence: 'away', trigger: 'manual' });
    await until(async () => (sink.messages.length >= 40 ? true : undefined));

    // Every connection to the database is cut, and none is let in again for two seconds.
    const name = new URL(t.env.DATABASE_URL!).pathname.slice(1);
    const server = await admin(t.env.DATABASE_URL!);
    try {
      await server.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await server.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [name]);
      const atCut = sink.messages.length;
      await new Promise((r) => setTimeout(r, 2_000));
      // The sends in flight finished; no other started without the database.
      expect(sink.messages.length - atCut).to.be.at.most(LANES);
      await server.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    } finally {
      await server.end();
    }

    const summary = await settled(t, 'spring', 'away', 60_000);
    expect(summary).to.include({ sent: LEADS, failed: 0, sending: 0 });
    const copies = new Map<string, number>();
    for (const m of sink.messages) copies.set(recipient(m), (copies.get(recipient(m)) ?? 0) + 1);
    expect(copies.size).to.equal(LEADS);
    // A second copy is possible only for a send in flight at the cut, and it is flagged.
    const { rows } = await t.database.pool.query<{ email: string }>(
      `SELECT l.email FROM messages m JOIN leads l ON l.id = m.lead_id WHERE m.occurrence = 'away' AND m.possible_duplicate`,
    );
    const flagged = new Set(rows.map((r) => r.email));
    const doubled = [...copies].filter(([, n]) => n > 1).map(([address]) => address);
    expect(doubled.filter((address) => !flagged.has(address))).to.deep.equal([]);
    expect(doubled.length).to.be.at.most(LANES);
  });
});
