import path from 'node:path';
import { expect } from 'chai';
import { saveUser } from '../../src/access/users.ts';
import { submitSignIn, useBrowser } from '../helpers/browser.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { logIn, type TestSession } from '../helpers/login.ts';
import { OBSERVE_FIXTURE } from '../helpers/observed.ts';
import { startWeb, type TestWeb } from '../helpers/web.ts';

const PASSWORD = 'correct horse battery';

interface JobsAnswer {
  jobs: { job: { _id: string; name: string; disabled?: boolean } }[];
}

/** Agenda's dashboard (agendash) under /admin/jobs: admins only, behind the web UI's login, with a policy of its own. */
describe("observability: Agenda's dashboard for admins", function () {
  this.timeout(60_000);
  const browser = useBrowser();
  let t: TestEngine;
  let web: TestWeb;
  let admin: TestSession;

  before(async () => {
    web = await startWeb();
    t = await testEngine({
      PUBLIC_URL: web.base,
      CAMPAIGNS_DIR: path.join(OBSERVE_FIXTURE, 'campaigns'),
      TEMPLATES_DIR: path.join(OBSERVE_FIXTURE, 'templates'),
    });
    web.serve(t.engine);
    await t.engine.startScheduler();
    for (const [email, role] of [
      ['root@example.com', 'admin'],
      ['ann@example.com', 'service'],
      ['mia@example.com', 'marketer'],
    ] as const) {
      await saveUser(t.database.pool, { email, name: email, role, password: PASSWORD, languages: ['en'] });
    }
    admin = await logIn(web.base, 'root@example.com', PASSWORD);
  });
  after(async () => {
    await web?.close();
    await t?.close();
  });

  const jobs = async (session: TestSession) => ((await (await session.page('/admin/jobs/api')).json()) as JobsAnswer).jobs;
  const post = (route: string, init: { cookie?: string; type?: string; origin?: string; body: string }) =>
    fetch(`${web.base}/admin/jobs${route}`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        ...(init.cookie ? { cookie: init.cookie } : {}),
        ...(init.type ? { 'content-type': init.type } : {}),
        ...(init.origin ? { origin: init.origin } : {}),
      },
      body: init.body,
    });

  it('sends whoever is not signed in to the login, and refuses every role but admin', async () => {
    const anonymous = await fetch(`${web.base}/admin/jobs/`, { redirect: 'manual' });
    expect(anonymous.status).to.equal(303);
    expect(anonymous.headers.get('location')).to.equal('/login?next=%2Fadmin%2Fjobs%2F');
    expect((await fetch(`${web.base}/admin/jobs/api`, { redirect: 'manual' })).status).to.equal(303);
    for (const email of ['ann@example.com', 'mia@example.com']) {
      const session = await logIn(web.base, email, PASSWORD);
      for (const route of ['/admin/jobs/', '/admin/jobs/api', '/admin/jobs/api/stats']) {
        expect((await session.page(route)).status, `${email} ${route}`).to.equal(403);
      }
      const pause = await post('/api/jobs/pause', {
        cookie: session.cookie,
        type: 'application/json',
        origin: web.base,
        body: '{"jobIds":[]}',
      });
      expect(pause.status, email).to.equal(403);
      expect(await (await session.page('/inbox')).text()).not.to.contain('/admin/jobs/');
    }
  });

  it("shows the scheduler's jobs to an admin, under a policy of its own on that path only", async () => {
    const bare = await fetch(`${web.base}/admin/jobs`, { headers: { cookie: admin.cookie }, redirect: 'manual' });
    expect(bare.status).to.equal(301);
    expect(bare.headers.get('location')).to.equal('/admin/jobs/');

    const page = await admin.page('/admin/jobs/');
    expect(page.status).to.equal(200);
    expect(await page.text()).to.contain('<div id="app">');
    const policy = page.headers.get('content-security-policy')!;
    expect(policy).to.contain("script-src 'self'").and.not.to.contain('unsafe-eval');
    expect(page.headers.get('x-frame-options')).to.equal('DENY');
    // The rest of the UI keeps its script-free policy.
    const inbox = await admin.page('/inbox');
    expect(inbox.headers.get('content-security-policy')).to.contain("default-src 'none'").and.not.to.contain('script-src');
    expect(await inbox.text()).to.contain('href="/admin/jobs/"');

    expect((await jobs(admin)).map((j) => j.job.name)).to.include.members(['sequences-tick', 'inbound-escalate']);
  });

  it("takes an admin's changes only as JSON from a page of this site", async () => {
    const tick = (await jobs(admin)).find((j) => j.job.name === 'sequences-tick')!;
    const body = JSON.stringify({ jobIds: [tick.job._id] });
    const refused = [
      await post('/api/jobs/pause', {
        cookie: admin.cookie,
        type: 'application/x-www-form-urlencoded',
        origin: web.base,
        body: `jobIds=${tick.job._id}`,
      }),
      await post('/api/jobs/pause', { cookie: admin.cookie, type: 'text/plain', origin: web.base, body }),
      await post('/api/jobs/pause', { cookie: admin.cookie, type: 'application/json', origin: 'https://evil.example', body }),
      await post('/api/jobs/pause', { cookie: admin.cookie, type: 'application/json', body }),
    ];
    expect(refused.map((r) => r.status)).to.deep.equal([403, 403, 403, 403]);
    expect((await jobs(admin)).find((j) => j.job._id === tick.job._id)!.job.disabled).not.to.equal(true);

    const paused = await post('/api/jobs/pause', { cookie: admin.cookie, type: 'application/json', origin: web.base, body });
    expect(paused.status).to.equal(200);
    expect((await jobs(admin)).find((j) => j.job._id === tick.job._id)!.job.disabled).to.equal(true);
    await post('/api/jobs/resume', { cookie: admin.cookie, type: 'application/json', origin: web.base, body });
    expect((await jobs(admin)).find((j) => j.job._id === tick.job._id)!.job.disabled).not.to.equal(true);
  });

  it('renders in Chromium under its policy, without a violation', async () => {
    const page = await browser().newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') violations.push(m.text());
    });
    try {
      await page.goto(`${web.base}/admin/jobs/`);
      expect(new URL(page.url()).pathname).to.equal('/login');
      await submitSignIn(page, 'root@example.com', PASSWORD, `${web.base}/admin/jobs/`);
      await page.getByText('sequences-tick').first().waitFor({ timeout: 15_000 });
      expect(violations.filter((v) => /Content Security Policy|Refused to/i.test(v))).to.deep.equal([]);
    } finally {
      await page.close();
    }
  });
});
