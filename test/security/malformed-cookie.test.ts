import { expect } from 'chai';
import { saveUser } from '../../src/access/users.ts';
import { rawRequest, testApp, type TestApp } from '../helpers/web.ts';

/**
 * Issue 11, item 11: the Cookie header carries cookies that other software set on our domain
 * (analytics, a proxy); one malformed value among them made every page a 500, sign-in included.
 * Only our own cookies are read, tolerantly.
 */
describe('security: a malformed foreign cookie breaks no page (issue 11, item 11)', function () {
  this.timeout(60_000);
  const PASSWORD = 'correct horse battery';
  let t: TestApp;

  before(async () => {
    t = await testApp();
    await saveUser(t.database.pool, { email: 'ann@example.com', role: 'service', password: PASSWORD, languages: ['en'] });
  });
  after(async () => {
    await t.close();
  });

  const page = async (path: string, cookie: string, form?: Record<string, string>) => {
    const res = await fetch(`${t.base}${path}`, {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: { cookie, ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    return { status: res.status, text: await res.text(), headers: res.headers };
  };
  const cookieValue = (headers: Headers, name: string) =>
    headers
      .getSetCookie()
      .map((c) => new RegExp(`^${name}=([^;]*)`).exec(c)?.[1])
      .find((v) => v);

  it('signs in and shows the inbox with `_ga=100%` (and other undecodable cookies) beside ours (before: 500 on every page)', async () => {
    const foreign = '_ga=100%; theme=%E0%A4%A; =; broken';
    const login = await page('/login', foreign);
    expect(login.status).to.equal(200);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(login.text)![1]!;
    const loginCookie = cookieValue(login.headers, 'tp_login')!;

    const signedIn = await page('/login', `${foreign}; tp_login=${loginCookie}`, {
      email: 'ann@example.com',
      password: PASSWORD,
      _csrf: csrf,
    });
    expect(signedIn.status).to.equal(303);
    expect(signedIn.headers.get('location')).to.equal('/inbox');
    const session = cookieValue(signedIn.headers, 'tp_session')!;

    const inbox = await page('/inbox', `${foreign}; tp_session=${session}`);
    expect(inbox.status).to.equal(200);
    expect(inbox.text).to.contain('Log out');
  });

  it('treats a malformed value of our own cookie as no cookie: the sign-in page, not a 500', async () => {
    for (const cookie of ['tp_session=%', 'tp_session=%00', 'tp_session=a%0Ab']) {
      const inbox = await page('/inbox', cookie);
      expect(inbox.status, cookie).to.equal(303);
      expect(inbox.headers.get('location'), cookie).to.equal('/login?next=%2Finbox');
    }
    expect((await rawRequest(`${t.base}/login`, { headers: { cookie: 'tp_login=%' } })).status).to.equal(200);
  });
});
