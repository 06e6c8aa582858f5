import path from 'node:path';
import { expect } from 'chai';
import type { TestEngine } from '../helpers/engine.ts';
import { apiKeyFor } from '../helpers/keys.ts';
import { api } from '../helpers/observed.ts';
import { useServedEngine, type TestWeb } from '../helpers/web.ts';
import { editableTemplates } from '../helpers/templates.ts';
import { seedLeads } from '../helpers/seed.ts';

const FIXTURE = 'test/fixtures/templates-live';
const TEMPLATE = 'upgrade/default.email.hbs';

describe('templates of a running engine', function () {
  this.timeout(60_000);
  const templates = editableTemplates(FIXTURE);
  const served = useServedEngine({ CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'), TEMPLATES_DIR: templates.dir });
  let t: TestEngine;
  let web: TestWeb;
  let key: string;

  before(async () => {
    ({ t, web } = served());
    await seedLeads(
      t.database,
      ['ann', 'ben'].map((id) => ({
        id,
        email: `${id}@example.com`,
        first: id.toUpperCase(),
        locale: null,
        orders: 1,
        consent: ['grant', 'confirm'],
      })),
    );
    key = await apiKeyFor(t.database, 'marketer');
  });
  after(() => templates.remove());

  const get = async (route: string) => {
    const res = await api(web, key, 'GET', route);
    expect(res.status).to.equal(200);
    return res.json();
  };

  it('shows why a message failed to render, in the messages API and the lead timeline', async () => {
    await t.engine.ingestEvents([{ lead: 'ann', event: 'upgraded', properties: { plan: 'pro' } }]);
    const { messages } = (await get('/messages?campaign=upgrade')) as { messages: Record<string, unknown>[] };
    expect(messages).to.have.length(1);
    expect(messages[0]).to.include({ lead: 'ann', status: 'failed', reason: 'render_error' });
    expect(messages[0]!.error).to.equal('upgrade/default.email.hbs (subject): "firstname" not defined - 1:29');
    const { timeline } = (await get('/leads/ann/timeline')) as { timeline: { kind: string; detail: Record<string, unknown> }[] };
    const message = timeline.find((e) => e.kind === 'message')!;
    expect(message.detail).to.include({
      reason: 'render_error',
      error: 'upgrade/default.email.hbs (subject): "firstname" not defined - 1:29',
    });
  });

  it('uses a fixed template for the next message, without a restart, and lets it read the trigger event (event.*)', async () => {
    templates.edit(TEMPLATE, (source) => source.replaceAll('lead.firstname', 'lead.first_name'));
    // The renderer looks at a template file again at most once a second.
    await new Promise((r) => setTimeout(r, 1_100));
    await t.engine.ingestEvents([{ lead: 'ben', event: 'upgraded', properties: { plan: 'business' } }]);
    const { rows } = await t.database.pool.query(
      `SELECT status, subject, body_html FROM messages m JOIN leads l ON l.id = m.lead_id WHERE l.external_id = 'ben'`,
    );
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ status: 'queued', subject: 'Welcome to business, BEN' });
    expect(rows[0].body_html).to.contain('your business plan is active');
  });
});
