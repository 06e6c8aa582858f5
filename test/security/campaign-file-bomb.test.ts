import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { startInboundSmtp, type InboundSmtp } from '../../src/inbound/smtp-listener.ts';
import { setLogLevel } from '../../src/log.ts';
import { until } from '../helpers/engine.ts';
import { apiKeyFor } from '../helpers/keys.ts';
import { expectResponsive, underAttack } from '../helpers/pressure.ts';
import { seedLeads } from '../helpers/seed.ts';
import { deliverMail } from '../helpers/smtp.ts';
import { rawRequest, testApp, type TestApp } from '../helpers/web.ts';

const exec = promisify(execFile);

/**
 * Issue 11, item 9: one campaign file cannot take everything down. A running engine (HTTP API,
 * event intake, inbound SMTP) gets an alias bomb, a 5.9 MB file and a broken edit of a good file
 * in its campaigns folder; `validate` is given the folder.
 */

const FIXTURE = path.resolve('test/fixtures/inbound');
const DOMAIN = 'touchpoint.test';

/** Nine levels of nine aliases: 387 million strings once expanded. */
const ALIAS_BOMB = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
  .concat([...'bcdefghi'].map((n, i) => `${n}: &${n} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(',')}]`))
  .join('\n');

/** A syntactically fine campaign, 5.9 MB long. */
function hugeCampaign(): string {
  const lines = ['id: huge', 'name: Huge', 'kind: lead', 'purpose: marketing', 'audience:', '  tags:'];
  let size = 0;
  for (let i = 0; size < 5_900_000; i++) {
    const line = `    - tag-${i}`;
    lines.push(line);
    size += line.length + 1;
  }
  return lines.join('\n') + '\nsteps:\n  - id: offer\n    channel: email\n    template: offer\n';
}

describe('security: one campaign file takes nothing down (issue 11, item 9)', function () {
  this.timeout(60_000);
  let root: string;
  let campaigns: string;
  let t: TestApp;
  let smtp: InboundSmtp;
  let key: string;

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'touchpoint-bomb-'));
    fs.cpSync(FIXTURE, root, { recursive: true });
    campaigns = path.join(root, 'campaigns');
    t = await testApp({
      CAMPAIGNS_DIR: campaigns,
      TEMPLATES_DIR: path.join(root, 'templates'),
      INBOUND_DOMAIN: DOMAIN,
    });
    smtp = await startInboundSmtp({ ...t.config.inbound, host: '127.0.0.1', port: 0, receive: t.engine.receiveReply });
    key = await apiKeyFor(t.database, 'marketer');
    await seedLeads(t.database, [{ id: 'f-1', email: 'f1@example.com', first: 'Fay', locale: null, orders: 1, consent: [] }]);
  });
  after(async () => {
    await smtp.close();
    await t.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const api = (route: string, body?: unknown) =>
    rawRequest(`${t.base}/api/v1${route}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  interface Listed {
    campaigns: { id: string; name: string }[];
    problems: { file: string; line: number; col: number; message: string; severity: string }[];
  }
  const listed = async (): Promise<Listed> => JSON.parse((await api('/campaigns')).text) as Listed;
  const at = (p: Listed['problems'][number]) => `${p.file}:${p.line}:${p.col} ${p.severity} ${p.message}`;

  it('an alias bomb, a 5.9 MB file and a broken edit are problems with positions; the API, events and replies go on', async () => {
    const logged: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => logged.push(String(chunk)) > 0) as typeof process.stderr.write;
    setLogLevel('warn');
    const attack = await underAttack(t.base, async () => {
      try {
        fs.writeFileSync(path.join(campaigns, 'bomb.yaml'), ALIAS_BOMB);
        fs.writeFileSync(path.join(campaigns, 'huge.yaml'), hugeCampaign());
        fs.appendFileSync(path.join(campaigns, 'followup.yaml'), 'steps: []\n');
        // Reloaded in the background within seconds; requests meanwhile read the set loaded before.
        return await until(async () => ((await listed()).problems.some((p) => p.file === 'bomb.yaml') ? true : undefined), 10_000);
      } finally {
        process.stderr.write = write;
        setLogLevel((process.env.TEST_LOG_LEVEL as 'error' | undefined) ?? 'error');
      }
    });
    // Before: the files were read on each request's path; the big one held the server for 11 s and took 1 GB.
    expectResponsive(attack);
    expect(attack.rssGrowthMb, 'RSS growth (MB)').to.be.below(50);

    const { campaigns: ids, problems } = await listed();
    expect(problems.map(at)).to.include.members([
      'bomb.yaml:2:8 error aliases expand to more than 100 values (an alias bomb?); write the values out instead',
      'followup.yaml:16:1 error duplicate key: a key may appear only once in a mapping',
    ]);
    const huge = problems.find((p) => p.file === 'huge.yaml')!;
    expect(at(huge)).to.match(
      /^huge\.yaml:1:1 error the file is \d+ bytes, over the limit of 262144 \(CAMPAIGN_MAX_FILE_BYTES\); it was not read$/,
    );
    // The broken file's last good version stays in use, and the set and the log say so.
    expect(ids.map((c) => c.id)).to.deep.equal(['followup']);
    const kept = problems.find((p) => p.file === 'followup.yaml' && p.severity === 'warning')!;
    expect(kept.message).to.match(/^the engine keeps using the last good version of this file \(loaded .+\) until its errors are fixed$/);
    expect(logged.join('')).to.contain(
      `campaign problem: ${path.join(campaigns, 'followup.yaml')}:1:1 warning: the engine keeps using the last good version`,
    );

    // Before: 500 for the list and every event, 451 for every reply.
    expect((await api('/events', { lead: 'f-1', event: 'visited' })).status).to.equal(201);
    await deliverMail(smtp.port, { from: 'f1@example.com', to: `reply+x@${DOMAIN}`, subject: 'Re: offer', text: 'Call me' });
    const { rows } = await t.database.pool.query(`SELECT 1 FROM inbound_contacts WHERE from_address = 'f1@example.com'`);
    expect(rows).to.have.length(1);
  });

  it('`validate <folder>` names every bad file with its position and exits 1 (no crash, no EISDIR)', async () => {
    const run = await exec(process.execPath, ['bin/touchpoint.js', 'validate', '--offline', campaigns + '/'], {
      env: { ...process.env, ...t.env, LOG_LEVEL: 'error' },
    }).then(
      () => ({ code: 0, stdout: '', stderr: '' }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    expect(run.code, run.stderr).to.equal(1);
    expect(run.stdout).to.contain(`${path.join(campaigns, 'bomb.yaml')}:2:8 aliases expand to more than 100 values`);
    expect(run.stdout).to.match(/huge\.yaml:1:1 the file is \d+ bytes, over the limit of 262144/);
    expect(run.stdout).to.contain(`${path.join(campaigns, 'followup.yaml')}:16:1 duplicate key`);
    expect(run.stderr).to.contain(
      '3 problem(s) in 3 file(s); a running engine keeps using the last good version of each until it is fixed',
    );
    expect(run.stderr).to.not.contain('unexpected error');
  });

  it('a fixed file is taken up again, and a removed one is gone', async () => {
    const file = path.join(campaigns, 'followup.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('steps: []\n', '').replace('Offer with a reminder', 'Offer, reminded'));
    fs.rmSync(path.join(campaigns, 'bomb.yaml'));
    fs.rmSync(path.join(campaigns, 'huge.yaml'));
    const fixed = await until(async () => {
      const now = await listed();
      return now.problems.length === 0 ? now : undefined;
    }, 10_000);
    expect(fixed.campaigns.map((c) => `${c.id}: ${c.name}`)).to.deep.equal(['followup: Offer, reminded']);
  });
});
