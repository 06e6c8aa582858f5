import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../src/config.ts';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { TEST_BASE } from '../helpers/db.ts';

const BIN = path.resolve('bin/touchpoint.js');
/** The environment without the variables that would point a command elsewhere: it must find its data by itself. */
const { DATABASE_URL: _u, TOUCHPOINT_DATA_DIR: _d, CAMPAIGNS_DIR: _c, TEMPLATES_DIR: _t, ...ENV } = process.env;

function cli(cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: { ...ENV, LOG_LEVEL: 'error' } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('one database, found on purpose', function () {
  this.timeout(90_000);
  // A project of its own (campaigns/ marks it) where the postgres user can reach it, and a folder
  // outside every project.
  const project = path.join(TEST_BASE, `project-${process.pid}`);
  const deeper = path.join(project, 'reports', 'q4');
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'touchpoint-elsewhere-'));
  before(() => {
    fs.mkdirSync(path.join(project, 'campaigns'), { recursive: true });
    fs.mkdirSync(deeper, { recursive: true });
  });
  after(() => {
    fs.rmSync(project, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });

  it('takes var/ beside the nearest campaigns/ from any folder of the project', () => {
    for (const cwd of [project, deeper]) {
      const config = loadConfig({}, cwd);
      expect(config.dataDir).to.equal(path.join(project, 'var'));
      expect(config.campaignsDir).to.equal(path.join(project, 'campaigns'));
      expect(config.templatesDir).to.equal(path.join(project, 'templates'));
      expect(config.dataDirOrigin).to.contain(`beside ${path.join(project, 'campaigns')}`);
    }
    // An explicit variable wins; a relative one is read from the working directory it was given in.
    expect(loadConfig({ TOUCHPOINT_DATA_DIR: 'data' }, deeper).dataDir).to.equal(path.join(deeper, 'data'));
    expect(loadConfig({}, outside).dataDir).to.equal(path.join(outside, 'var'));
  });

  it('refuses to create an empty database for a command that reads, and says where it looked', async () => {
    const { code, stderr } = await cli(outside, ['consent', 'verify']);
    expect(code).to.equal(3);
    expect(stderr).to.contain(`no Touchpoint database in ${path.join(outside, 'var')}`);
    expect(stderr).to.contain(`no folder from ${outside} upward holds campaigns/`);
    expect(fs.existsSync(path.join(outside, 'var')), 'nothing created').to.equal(false);

    // In a project without a database yet, the same: serve (npm start) creates it.
    const inProject = await cli(deeper, ['keys', 'list']);
    expect(inProject.code).to.equal(3);
    expect(inProject.stderr).to.contain(`no Touchpoint database in ${path.join(project, 'var')}`);
    expect(inProject.stderr).to.contain('`touchpoint serve` (npm start) creates it');
    expect(fs.existsSync(path.join(project, 'var', 'postgres'))).to.equal(false);
  });

  it('reads a relative TOUCHPOINT_DATA_DIR in the project’s .env from the project’s folder', async () => {
    fs.writeFileSync(path.join(project, '.env'), 'TOUCHPOINT_DATA_DIR=./state\n');
    try {
      const { code, stderr } = await cli(deeper, ['keys', 'list']);
      expect(code).to.equal(3);
      expect(stderr).to.contain(`no Touchpoint database in ${path.join(project, 'state')}`);
      expect(stderr).to.contain(`TOUCHPOINT_DATA_DIR=./state (from ${path.join(project, '.env')})`);
    } finally {
      fs.rmSync(path.join(project, '.env'));
    }
  });

  it('finds the same database from the project’s folder and from deep inside it', async () => {
    // The database exists (as after `npm start`); this test process is one of its users.
    const server = await startEmbeddedPostgres(path.join(project, 'var'));
    try {
      const created = await cli(project, ['keys', 'create', '--role', 'admin', '--name', 'found from the top']);
      expect(created.code, created.stderr).to.equal(0);
      const listed = await cli(deeper, ['keys', 'list']);
      expect(listed.code, listed.stderr).to.equal(0);
      expect(listed.stdout).to.contain('found from the top');
    } finally {
      expect(await server.stopIfUnused()).to.equal('stopped');
    }
  });
});
