import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { expect } from 'chai';
import { passwordVerifications } from '../../src/access/passwords.ts';
import { SIGN_IN_WINDOW_MS, throttledAddress } from '../../src/access/sign-in.ts';
import { saveUser } from '../../src/access/users.ts';
import { ManualClock } from '../../src/clock.ts';
import { createApp } from '../../src/http/app.ts';
import type { TestEngine } from '../helpers/engine.ts';
import { loginForm, postLogin } from '../helpers/sign-in.ts';
import { useServedEngine, type TestWeb } from '../helpers/web.ts';

const PASSWORD = 'correct horse battery';
const WRONG = 'not the password';

/**
 * Item 12: sign-in throttling. Before: a per-process Map per email (five wrong passwords from
 * anyone locked that email out for everyone), parallel attempts all reached scrypt (16 parallel
 * wrong passwords for one account: 16 × 401, none refused), and a real login took 450–650 ms
 * instead of 110 ms while they ran.
 */
describe('security: sign-in throttling', function () {
  this.timeout(60_000);
  const clock = new ManualClock(new Date());
  // Limits as configured in production would do, only smaller, so the suite runs fewer scrypts.
  const served = useServedEngine(
    { SIGN_IN_MAX_FAILURES: '5', SIGN_IN_MAX_FAILURES_PER_ADDRESS: '8', SIGN_IN_MAX_FAILURES_PER_ACCOUNT: '10' },
    clock,
  );
  let t: TestEngine;
  let web: TestWeb;

  before(async () => {
    ({ t, web } = served());
    for (const email of ['real@example.com', 'victim@example.com', 'popular@example.com'])
      await saveUser(t.database.pool, { email, role: 'service', password: PASSWORD });
  });

  const limits = () => t.config.signIn;
  const login = (email: string, password: string, from: string) => postLogin(web.base, email, password, { forwardedFor: from });

  it('16 parallel bogus sign-ins: those over the limit are refused before scrypt while a real user signs in from elsewhere', async () => {
    const forms = await Promise.all(Array.from({ length: 17 }, () => loginForm(web.base)));
    const verifiedBefore = passwordVerifications();
    const bogus = forms.slice(0, 16).map((form) => postLogin(web.base, 'real@example.com', WRONG, { forwardedFor: '203.0.113.7', form }));
    const real = postLogin(web.base, 'real@example.com', PASSWORD, { forwardedFor: '198.51.100.20', form: forms[16] });
    const [answers, mine] = await Promise.all([Promise.all(bogus), real]);

    expect(mine.status).to.equal(303);
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).to.deep.equal([...Array(5).fill(401), ...Array(11).fill(429)]);
    // Five wrong passwords and the real one were checked; the eleven refused did no scrypt work.
    expect(passwordVerifications() - verifiedBefore).to.equal(6);
    const refused = answers.find((a) => a.status === 429)!;
    expect(refused.text).to.contain('Too many failed attempts');
    expect(Number(refused.headers.get('retry-after'))).to.be.within(1, SIGN_IN_WINDOW_MS / 1000);
  });

  it('an attacker cannot lock a person out: the victim still signs in from their own address', async () => {
    for (let i = 0; i < limits().perAccountAndAddress; i++)
      expect((await login('victim@example.com', WRONG, '203.0.113.8')).status).to.equal(401);
    expect((await login('victim@example.com', PASSWORD, '203.0.113.8')).status, 'the right password from the attacker’s address').to.equal(
      429,
    );
    expect((await login('victim@example.com', PASSWORD, '198.51.100.21')).status).to.equal(303);
  });

  it('one address trying many accounts meets the address limit; other addresses do not', async () => {
    const verifiedBefore = passwordVerifications();
    const answers = await Promise.all(
      Array.from({ length: limits().perAddress + 5 }, (_, i) => login(`nobody-${i}@example.com`, WRONG, '203.0.113.9')),
    );
    expect(answers.filter((a) => a.status === 401)).to.have.length(limits().perAddress);
    expect(answers.filter((a) => a.status === 429)).to.have.length(5);
    expect(passwordVerifications() - verifiedBefore).to.equal(limits().perAddress);
    expect((await login('real@example.com', PASSWORD, '203.0.113.9')).status).to.equal(429);
    expect((await login('real@example.com', PASSWORD, '198.51.100.22')).status).to.equal(303);
  });

  it('counts an IPv6 client by its /64, so fresh addresses from one network do not reset the count', () => {
    expect(throttledAddress('2001:db8:1:2::1')).to.equal('2001:db8:1:2::/64');
    expect(throttledAddress('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).to.equal('2001:db8:1:2::/64');
    expect(throttledAddress('::ffff:198.51.100.1')).to.equal('198.51.100.1');
    expect(throttledAddress('2001:db8::')).to.equal('2001:db8:0:0::/64');
  });

  it('many addresses guessing one account meet the account limit, except where the person signed in before', async () => {
    expect((await login('popular@example.com', PASSWORD, '198.51.100.30')).status).to.equal(303);
    const perAddress = limits().perAccountAndAddress;
    const addresses = Array.from({ length: Math.ceil(limits().perAccount / perAddress) }, (_, i) => `192.0.2.${100 + i}`);
    const answers = await Promise.all(
      addresses.flatMap((a) => Array.from({ length: perAddress }, () => login('popular@example.com', WRONG, a))),
    );
    expect(answers.every((a) => a.status === 401)).to.equal(true);
    expect((await login('popular@example.com', PASSWORD, '198.51.100.31')).status, 'from a new address').to.equal(429);
    expect((await login('popular@example.com', PASSWORD, '198.51.100.30')).status, 'from the known address').to.equal(303);
  });

  it('keeps no email or address in the shared table, and prunes counters once their window has passed', async () => {
    const { rows } = await t.database.pool.query<{ key: string; attempts: number }>(`SELECT key, attempts FROM sign_in_throttle`);
    expect(rows.length).to.be.greaterThan(0);
    for (const { key } of rows) expect(key).to.match(/^(account|address|pair|known):[0-9a-f]{32}$/);

    clock.advance(SIGN_IN_WINDOW_MS + 1_000);
    expect((await login('victim@example.com', PASSWORD, '203.0.113.8')).status, 'the attacker’s address may try again').to.equal(303);
    const { rows: left } = await t.database.pool.query<{ key: string; attempts: number }>(`SELECT key, attempts FROM sign_in_throttle`);
    const { rows: expired } = await t.database.pool.query(`SELECT key FROM sign_in_throttle WHERE expires_at <= $1`, [clock.now()]);
    expect(expired).to.deep.equal([]);
    // What is left: the last attempt's counters (taken back by its success) and the addresses
    // people signed in from (exempt from the account limit for a while).
    const counters = left.filter((r) => !r.key.startsWith('known:')).map((r) => [r.key.split(':')[0], r.attempts]);
    expect(counters.sort()).to.deep.equal([
      ['account', 0],
      ['address', 0],
    ]);
  });

  describe('behind the loopback proxy only', () => {
    let direct: Server | undefined;
    let directBase: string;

    before(function () {
      // A client that reaches the app directly, not through the loopback proxy it trusts.
      const external = Object.values(os.networkInterfaces())
        .flat()
        .find((i) => i && !i.internal && i.family === 'IPv4');
      if (!external) {
        console.log('    (skipped: this machine has no non-loopback IPv4 address to connect from)');
        this.skip();
      }
      direct = createServer(createApp(t.engine));
      return new Promise<void>((resolve) =>
        direct!.listen(0, external!.address, () => {
          directBase = `http://${external!.address}:${(direct!.address() as AddressInfo).port}`;
          resolve();
        }),
      );
    });
    after(() => new Promise<void>((resolve) => (direct ? direct.close(() => resolve()) : resolve())));

    it('a client-sent X-Forwarded-For does not give an attacker fresh addresses', async () => {
      const answers = [];
      for (let i = 0; i <= limits().perAccountAndAddress; i++)
        answers.push((await postLogin(directBase, 'real@example.com', WRONG, { forwardedFor: `198.18.0.${i}` })).status);
      expect(answers).to.deep.equal([...Array(limits().perAccountAndAddress).fill(401), 429]);
      // The person's own address (through the proxy) is not the one that was counted.
      expect((await login('real@example.com', PASSWORD, '198.18.0.1')).status).to.equal(303);
    });
  });
});
