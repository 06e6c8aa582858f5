import { execFile } from 'node:child_process';
import { expect } from 'chai';
import { createApiKey } from '../../src/access/keys.ts';
import { saveUser } from '../../src/access/users.ts';
import { AppError } from '../../src/errors.ts';
import type { TestEngine } from '../helpers/engine.ts';
import { postLogin, sessionCookie } from '../helpers/sign-in.ts';
import { useServedEngine, type TestWeb } from '../helpers/web.ts';

const PASSWORD = 'correct horse battery';

/**
 * Item 12: keys could not be revoked nor people disabled, and sessions outlived a password change.
 * Each test does what an operator does (the CLI, in its own process, against the running app's
 * database) and checks what the person or key can still do over HTTP.
 */
describe('security: key and user lifecycle', function () {
  this.timeout(60_000);
  const served = useServedEngine();
  let t: TestEngine;
  let web: TestWeb;

  before(async () => {
    ({ t, web } = served());
    for (const email of ['ann@example.com', 'carol@example.com'])
      await saveUser(t.database.pool, { email, role: 'service', password: PASSWORD });
    await saveUser(t.database.pool, { email: 'dave@example.com', role: 'admin', password: PASSWORD });
  });

  const cli = (args: string[], input = '') =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        ['bin/touchpoint.js', ...args],
        { env: { ...process.env, ...t.env, LOG_LEVEL: 'error' } },
        (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin!.end(input);
    });
  const api = async (key: string) => (await fetch(`${web.base}/api/v1/campaigns`, { headers: { authorization: `Bearer ${key}` } })).status;
  const signIn = async (email: string, password = PASSWORD) => {
    const res = await postLogin(web.base, email, password);
    return res.status === 303 ? sessionCookie(res.headers) : `refused ${res.status}`;
  };
  /** Where an inbox request with this session cookie lands: 200, or a redirect to /login. */
  const inbox = async (cookie: string) => {
    const res = await fetch(`${web.base}/inbox`, { headers: { cookie }, redirect: 'manual' });
    return res.status === 303 ? res.headers.get('location')!.split('?')[0] : res.status;
  };

  it('keys list shows every key (never the secret); keys revoke by prefix stops it in the running app', async () => {
    const ann = await createApiKey(t.database.pool, 'service', 'ann inbox', 'ann@example.com');
    const admin = await createApiKey(t.database.pool, 'admin', 'ops');
    expect(await api(admin.key)).to.equal(200);

    const list = await cli(['keys', 'list']);
    expect(list.code).to.equal(0);
    const [header, , ...rows] = list.stdout.trimEnd().split('\n');
    expect(header).to.match(/^id\s+name\s+role\s+user\s+prefix\s+created\s+last used\s+revoked$/);
    const annPrefix = ann.key.split('_')[1]!;
    expect(rows.find((r) => r.startsWith(`${ann.id} `))).to.match(
      new RegExp(`ann inbox\\s+service\\s+ann@example.com\\s+tp_${annPrefix}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\dZ\\s+-\\s+-$`),
    );
    expect(rows.find((r) => r.startsWith(`${admin.id} `))).to.match(/ops\s+admin\s+-\s+tp_[0-9a-f]{8}\s+\S+ \S+\s+\d{4}-\S+ \S+\s+-$/);
    // The secret is base64url and may itself hold `_`: it is everything after `tp_<prefix>_`.
    for (const key of [ann.key, admin.key]) expect(list.stdout).not.to.contain(key.slice('tp_12345678_'.length));

    const revoke = await cli(['keys', 'revoke', `tp_${annPrefix}`]);
    expect(revoke.code, revoke.stderr).to.equal(0);
    expect(revoke.stderr).to.contain(`API key ${ann.id} revoked`);
    expect(await api(ann.key)).to.equal(401);
  });

  it('a key revoked in the serving process stops at once, though it was just used', async () => {
    const { key, id } = await createApiKey(t.database.pool, 'marketer', 'campaign tool');
    expect(await api(key)).to.equal(200);
    await t.engine.access.revokeKey(String(id));
    expect(await api(key)).to.equal(401);
    expect((await t.engine.access.revokeKey(String(id))).already).to.equal(true);
  });

  it('keys revoke names what is wrong with a reference it cannot use', async () => {
    const refusal = (ref: string) =>
      t.engine.access.revokeKey(ref).then(
        () => 'revoked',
        (err: AppError) => err.code,
      );
    expect(await refusal('tp_00000000')).to.equal('not_found');
    expect(await refusal('drop table')).to.equal('invalid_input');
  });

  it('a new password ends the sessions signed in with the old one', async () => {
    const cookie = await signIn('ann@example.com');
    expect(await inbox(cookie)).to.equal(200);
    await t.engine.access.saveUser({ email: 'ann@example.com', role: 'service', password: 'a brand new passphrase' });
    expect(await inbox(cookie)).to.equal('/login');
    expect(await signIn('ann@example.com')).to.equal('refused 401');
    expect(await signIn('ann@example.com', 'a brand new passphrase')).to.match(/^tp_session=/);
  });

  it('users disable ends sessions, refuses the password and stops their keys; enable revives no old session', async () => {
    const cookie = await signIn('carol@example.com');
    const { key } = await createApiKey(t.database.pool, 'service', 'carol inbox', 'carol@example.com');

    const disable = await cli(['users', 'disable', 'carol@example.com']);
    expect(disable.code, disable.stderr).to.equal(0);
    expect(disable.stderr).to.contain('Disabled carol@example.com: 1 session(s) ended; 1 API key(s)');
    expect(await inbox(cookie)).to.equal('/login');
    expect(await signIn('carol@example.com')).to.equal('refused 401');
    expect(await api(key)).to.equal(401);
    const listed = (await t.engine.access.listUsers(undefined, true)).find((u) => u.email === 'carol@example.com');
    expect(listed?.disabledAt).to.be.an.instanceOf(Date);

    const enable = await cli(['users', 'enable', 'carol@example.com']);
    expect(enable.code, enable.stderr).to.equal(0);
    expect(await inbox(cookie), 'the session ended at disable stays ended').to.equal('/login');
    expect(await signIn('carol@example.com')).to.match(/^tp_session=/);
    expect(await api(key)).to.equal(200);
  });

  it('disabling in the serving process stops a key acting for them at once, whatever its role', async () => {
    const { key } = await createApiKey(t.database.pool, 'admin', 'dave automation', 'dave@example.com');
    expect(await api(key)).to.equal(200);
    await t.engine.access.disableUser('dave@example.com');
    expect(await api(key)).to.equal(401);
  });
});
