import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { saveUser } from '../../src/access/users.ts';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { confirmedLeads, seedLeads } from '../helpers/seed.ts';
import { logIn, startWeb, type TestWeb, type WebSession } from '../helpers/web.ts';

const PASSWORD = 'correct horse battery';

const files: Record<string, string> = {
  'campaigns/personas.yaml': 'personas:\n  - id: everyone\n',
  'campaigns/sale.yaml': [
    'id: sale',
    'name: Sale <script>alert("name")</script>',
    '# <script>alert("comment")</script>',
    'kind: lead',
    'purpose: marketing',
    'audience: { tags: [customer] }',
    'steps:',
    '  - id: offer',
    '    channel: email',
    '    template: sale',
    '',
  ].join('\n'),
  'campaigns/typo.yaml': [
    'id: typo',
    'name: Typo',
    'kind: lead',
    'purpose: marketing',
    'audience: { tags: [nobody] }',
    'steps:',
    '  - id: offer',
    '    channel: email',
    '    template: typo',
    '',
  ].join('\n'),
  'templates/typo/default.email.hbs': '---\nsubject: "Hi {{lead.firstname}}"\n---\n<a href="{{unsubscribe_url}}">Unsubscribe</a>\n',
  'campaigns/broken.yaml': ['id: broken', 'name: Broken', 'kind: lead', 'purpose: 42', 'steps: []', ''].join('\n'),
  // A template whose author wrote a script: the preview shows it inert, never as part of the page.
  'templates/sale/default.email.hbs':
    '---\nsubject: "Hi {{lead.first_name}}"\n---\n<p>Hi {{lead.first_name}}</p><script>alert("template")</script><a href="{{unsubscribe_url}}">Unsubscribe</a>\n',
};

/** The campaign page over HTTP: who may open it, what an unknown one answers, what it escapes, its pages and its history. */
describe('the campaign page', function () {
  this.timeout(60_000);
  let t: TestEngine;
  let web: TestWeb;
  let dir: string;
  const sessions: Record<string, WebSession> = {};

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tp-campaign-page-'));
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), text);
    }
    web = await startWeb();
    t = await testEngine({ CAMPAIGNS_DIR: path.join(dir, 'campaigns'), TEMPLATES_DIR: path.join(dir, 'templates'), PUBLIC_URL: web.base });
    web.serve(t.engine);
    await seedLeads(t.database, [
      {
        id: 'x-1',
        email: 'x@example.com',
        first: '<script>alert("lead")</script>',
        locale: null,
        orders: 1,
        consent: ['grant', 'confirm'],
      },
      ...confirmedLeads(60, 'p'),
    ]);
    for (const role of ['marketer', 'admin', 'service', 'compliance'] as const) {
      await saveUser(t.database.pool, { email: `${role}@example.com`, role, password: PASSWORD });
      sessions[role] = await logIn(web.base, `${role}@example.com`, PASSWORD);
    }
  });
  after(async () => {
    await web?.close();
    await t?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const get = (route: string, role = 'marketer') =>
    fetch(web.base + route, { redirect: 'manual', headers: { cookie: sessions[role]!.cookie } });

  it('is for marketers and admins: other roles are refused, and no session is sent to sign in', async () => {
    for (const role of ['marketer', 'admin']) expect((await get('/campaigns/sale', role)).status, role).to.equal(200);
    for (const role of ['service', 'compliance']) {
      const res = await get('/campaigns/sale', role);
      expect(res.status, role).to.equal(403);
      expect(await res.text()).not.to.contain('Sale');
    }
    const anonymous = await fetch(`${web.base}/campaigns/sale`, { redirect: 'manual' });
    expect(anonymous.status).to.equal(303);
    expect(anonymous.headers.get('location')).to.match(/^\/login\b/);
  });

  it('answers an unknown campaign with a 404 page that leads back to the marketer’s start page', async () => {
    const res = await get('/campaigns/nope');
    expect(res.status).to.equal(404);
    const html = await res.text();
    expect(html).to.contain('no campaign &#x27;nope&#x27;');
    expect(html).to.contain('<a href="/campaigns">Back to your start page</a>');
  });

  it('shows what campaigns, templates and leads hold as text: no <script> reaches the page', async () => {
    const res = await get('/campaigns/sale?step=offer&lead=x-1');
    expect(res.status).to.equal(200);
    const html = await res.text();
    expect(html).not.to.match(/<script/i);
    // The name, the YAML's comment, and the lead's name in the recipient list.
    expect(html).to.contain('Sale &lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;');
    expect(html).to.contain('# &lt;script&gt;alert(&quot;comment&quot;)&lt;/script&gt;');
    expect(html).to.match(/<tr data-lead="x-1"><td><strong>&lt;script&gt;alert\(&quot;lead&quot;\)&lt;\/script&gt;<\/strong>/);
    // The rendered email goes into the sandboxed frame's srcdoc, escaped as an attribute: the
    // template's own script is inert there, and the lead's name is escaped once more inside it.
    const srcdoc = /<iframe id="preview-frame" title="Rendered email" sandbox srcdoc="([^"]*)"><\/iframe>/.exec(html)?.[1];
    expect(srcdoc, 'the preview frame').to.be.a('string');
    expect(srcdoc).to.contain('&lt;script&gt;alert(&quot;template&quot;)&lt;/script&gt;');
    expect(srcdoc).to.contain('Hi &amp;lt;script&amp;gt;');
    // The page keeps the app's strict policy: the srcdoc document inherits it.
    expect(res.headers.get('content-security-policy')).to.match(/^default-src 'none'; style-src 'unsafe-inline';/);
  });

  it('shows a broken file with its problem at its line, and no plan', async () => {
    const res = await get('/campaigns/broken');
    expect(res.status).to.equal(200);
    const html = await res.text();
    expect(html).to.match(/<code>broken\.yaml:4:\d+<\/code>/);
    expect(html).to.match(/<tr id="L4" class="marked" data-problems="1">/);
    expect(html).not.to.contain('id="plan-totals"');
  });

  it('shows warnings too: a template variable nothing provides, at the step’s template line', async () => {
    const html = await (await get('/campaigns/typo')).text();
    expect(html).to.match(/<tr data-severity="warning"><td><a href="#L9"><code>typo\.yaml:9:\d+<\/code><\/a><\/td>/);
    expect(html).to.contain('did you mean lead.first_name?');
    expect(html).to.match(/<tr id="L9" class="marked" data-problems="1">/);
  });

  it('lists the plan 50 to a page and searches the whole plan', async () => {
    const first = await (await get('/campaigns/sale')).text();
    expect(first.match(/<tr data-lead=/g)).to.have.length(50);
    expect(first).to.contain('61 match(es) · page 1 of 2');
    // Attributes are escaped by the views (`=` too); the browser reads them back as written.
    expect(first).to.contain('href="/campaigns/sale?page&#x3D;2#recipients"');
    const second = await (await get('/campaigns/sale?page=2')).text();
    expect(second.match(/<tr data-lead=/g)).to.have.length(11);
    const leadsFound = async (q: string) =>
      (await (await get(`/campaigns/sale?q=${encodeURIComponent(q)}`)).text()).match(/<tr data-lead="[^"]+"/g);
    // By email, name or id, in any case, over every page of the plan.
    expect(await leadsFound('P-59@EXAMPLE')).to.deep.equal(['<tr data-lead="p-59"']);
    expect(await leadsFound('p59')).to.deep.equal(['<tr data-lead="p-59"']);
    expect(await leadsFound('X-1')).to.deep.equal(['<tr data-lead="x-1"']);
  });

  it('lists runs and occurrences with their counts, each linked to its report', async () => {
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'sale'), set, { occurrence: 'first', trigger: 'manual' });
    const html = await (await get('/campaigns/sale')).text();
    const occurrence = /<tr data-occurrence="first">(.*?)<\/tr>/.exec(html)?.[1];
    expect(occurrence).to.contain('<a href="/campaigns/sale/report?occurrence&#x3D;first"><code>first</code></a>');
    expect(occurrence!.match(/<td>(\d+)<\/td>/g)).to.deep.equal(['<td>61</td>', '<td>0</td>', '<td>0</td>', '<td>0</td>', '<td>0</td>']);
    const run = /<tr data-run="\d+">(.*?)<\/tr>/.exec(html)?.[1];
    expect(run).to.contain('manual').and.contain('done').and.contain('enrolled 61');
    // The places where running and test sends start.
    expect(html).to.contain('<a href="/campaigns/sale/run">Run…</a>');
    expect(html).to.contain('<a href="/campaigns/sale/send-test">Send test…</a>');
  });

  it('retries what failed from the page: the form needs its CSRF token, and a refused message is queued again', async () => {
    const { pool } = t.database;
    // The provider refused one message of the run for good (what the dispatcher records on a 5xx).
    const { rows } = await pool.query<{ id: number }>(
      `UPDATE messages SET status = 'failed', reason = 'rejected', attempted_at = now(), attempts = 1
        WHERE id = (SELECT min(id) FROM messages WHERE campaign_id = 'sale' AND status = 'queued') RETURNING id`,
    );
    const post = (csrf: string) =>
      fetch(`${web.base}/campaigns/sale/retry`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: sessions.marketer!.cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf }).toString(),
      });
    const html = await (await get('/campaigns/sale')).text();
    expect(html).to.contain('action="/campaigns/sale/retry"');
    expect((await post('forged')).status).to.equal(403);
    expect((await pool.query(`SELECT status FROM messages WHERE id = $1`, [rows[0]!.id])).rows[0].status).to.equal('failed');
    const done = await post(sessions.marketer!.csrf);
    expect(done.status).to.equal(303);
    expect(done.headers.get('location')).to.equal('/campaigns/sale?done=retried');
    expect((await pool.query(`SELECT status, attempts FROM messages WHERE id = $1`, [rows[0]!.id])).rows[0]).to.deep.equal({
      status: 'queued',
      attempts: 0,
    });
    expect(await (await get('/campaigns/sale?done=retried')).text()).to.contain('Retry recorded');
  });
});
