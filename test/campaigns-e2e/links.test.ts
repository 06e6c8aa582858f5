import { execFile, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { loadConfig } from '../../src/config.ts';
import { linkBase, type LinkBase } from '../../src/public-url.ts';
import { testEngine, until, type TestEngine } from '../helpers/engine.ts';
import { confirmedLeads, seedLeads } from '../helpers/seed.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const exec = promisify(execFile);

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('links in messages point to the running server, whichever process records them', function () {
  this.timeout(90_000);
  let t: TestEngine;
  let sink: SmtpSink;
  let serve: ChildProcess | undefined;
  /** The environment of a marketer's terminal: the same database, no PUBLIC_URL. */
  let env: NodeJS.ProcessEnv;
  /** The link base of a process started before any server (a worker), reading announcements every 50 ms. */
  let early: LinkBase;
  let servePort = 0;

  before(async () => {
    sink = await startSmtpSink();
    t = await testEngine({ SMTP_URL: sink.url });
    await seedLeads(t.database, confirmedLeads(1, 'link'));
    const { PUBLIC_URL: _unset, ...rest } = { ...process.env, ...t.env };
    env = { ...rest, LOG_LEVEL: 'warn', LOG_FORMAT: 'json' };
    early = await linkBase(t.database.pool, loadConfig(env), 50);
  });
  after(async () => {
    serve?.kill('SIGKILL');
    await t.close();
    await sink.close();
  });

  const run = (occurrence: string, extra: NodeJS.ProcessEnv = {}) =>
    exec(process.execPath, ['bin/touchpoint.js', 'run', 'spring', '--yes', '--occurrence', occurrence, '--wait'], {
      env: { ...env, ...extra },
    });
  async function links(occurrence: string): Promise<{ html: string; header: string }> {
    const { rows } = await t.database.pool.query(`SELECT body_html, headers FROM messages WHERE occurrence = $1`, [occurrence]);
    expect(rows).to.have.length(1);
    return { html: rows[0].body_html, header: rows[0].headers['List-Unsubscribe'] };
  }

  it('warns when neither PUBLIC_URL nor a running server says where links should point', async () => {
    const { stderr } = await run('nothing-known');
    expect(stderr).to.contain('PUBLIC_URL is not set and no server has announced its URL');
    expect((await links('nothing-known')).header).to.match(/^<http:\/\/localhost:3000\/unsubscribe\//);
  });

  it('a CLI run while serve listens on another port links to that server (body and List-Unsubscribe)', async () => {
    const port = (servePort = await freePort());
    serve = spawn(process.execPath, ['bin/touchpoint.js', 'serve'], {
      env: { ...env, PORT: String(port), LOG_LEVEL: 'error' },
      stdio: 'ignore',
    });
    await until(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok || undefined, 30_000);

    const { stderr } = await run('while-serving');
    expect(stderr).not.to.contain('PUBLIC_URL is not set');
    const { html, header } = await links('while-serving');
    expect(header).to.match(new RegExp(`^<http://localhost:${port}/unsubscribe/`));
    expect(html).to.contain(`href="http://localhost:${port}/unsubscribe/`);
    // The link works: the server it names answers it.
    const token = /\/unsubscribe\/([^>]+)>/.exec(header)![1];
    expect((await fetch(`http://127.0.0.1:${port}/unsubscribe/${token}`)).status).to.equal(200);
  });

  it('PUBLIC_URL, when set, wins over the announced URL', async () => {
    await run('configured', { PUBLIC_URL: 'https://mail.example.com/' });
    expect((await links('configured')).header).to.match(/^<https:\/\/mail\.example\.com\/unsubscribe\//);
  });

  it('a process started before the server takes up its URL once announced', async () => {
    expect(servePort).to.be.greaterThan(0);
    await until(async () => early.url() === `http://localhost:${servePort}` || undefined, 5_000);
  });
});
