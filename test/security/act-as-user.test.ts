import path from 'node:path';
import { expect } from 'chai';
import { createApiKey } from '../../src/access/keys.ts';
import { saveUser } from '../../src/access/users.ts';
import { startInboundApp, type InboundApp } from '../helpers/inbound-app.ts';
import { seedLeads } from '../helpers/seed.ts';
import { deliverMail } from '../helpers/smtp.ts';

/**
 * Issue 11, item 3: a service key acts only as its own user. Before the fix, ann's key could
 * accept a contact "as bob" (`{"user": "bob@example.com"}`): the contact became bob's and its
 * history named him. Only an admin key may name another user.
 */

const FIXTURE = path.resolve('test/fixtures/inbound');
const PASSWORD = 'correct horse battery';

interface Contact {
  status: string;
  assignee: string | null;
  history: { action: string; actor: string }[];
}

describe('security: a service key cannot act as another user', function () {
  this.timeout(60_000);
  let app: InboundApp;
  let contact: number;
  const keys: Record<string, string> = {};

  beforeEach(async () => {
    app = await startInboundApp({ CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'), TEMPLATES_DIR: path.join(FIXTURE, 'templates') });
    const { t, inbound, domain } = app;
    // Both serve the retention queue; only ann serves general, where the reply below lands.
    for (const email of ['ann@example.com', 'bob@example.com']) {
      await saveUser(t.database.pool, { email, role: 'service', password: PASSWORD, languages: ['en'] });
    }
    keys.ann = (await createApiKey(t.database.pool, 'service', 'ann-tool', 'ann@example.com')).key;
    keys.admin = (await createApiKey(t.database.pool, 'admin', 'team-tool')).key;
    await seedLeads(t.database, [{ id: 'carol', email: 'carol@example.com', first: 'Carol', locale: null, orders: 1, consent: [] }]);
    await deliverMail(inbound.port, { from: 'carol@example.com', to: `hello@${domain}`, subject: 'Parcel', text: 'Where is my parcel?' });
    const list = await fetch(`${app.web.base}/api/v1/inbound`, { headers: { authorization: `Bearer ${keys.admin}` } });
    contact = ((await list.json()) as { contacts: { id: number }[] }).contacts[0]!.id;
  });
  afterEach(() => app.close());

  async function post(action: string, key: string, body: Record<string, unknown>) {
    const res = await fetch(`${app.web.base}/api/v1/inbound/${contact}/${action}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Contact & { error?: string; message?: string } };
  }
  const current = async () =>
    (await (
      await fetch(`${app.web.base}/api/v1/inbound/${contact}`, { headers: { authorization: `Bearer ${keys.admin}` } })
    ).json()) as Contact;

  it('refuses every action of a service key that names someone else, with the reason, and changes nothing', async () => {
    const before = await current();
    for (const [action, body] of [
      ['accept', {}],
      ['reply', { text: 'Signed, bob' }],
      ['close', { resolution: 'closed by "bob"' }],
      ['opt-out', {}],
    ] as const) {
      const res = await post(action, keys.ann!, { ...body, user: 'bob@example.com' });
      expect(res.status, action).to.equal(403);
      expect(res.body).to.include({ error: 'forbidden' });
      expect(res.body.message).to.equal(
        'a service key acts only as its own user (ann@example.com); only an admin key may name another user',
      );
    }
    expect(await current()).to.deep.equal(before);
    const { rows } = await app.t.database.pool.query(`SELECT count(*)::int AS n FROM messages WHERE campaign_id = 'inbox'`);
    expect(rows[0].n).to.equal(0);
  });

  it('lets a service key act as itself, named or not, and an admin key name anyone', async () => {
    const accepted = await post('accept', keys.ann!, { user: 'ANN@example.com' });
    expect(accepted.status).to.equal(200);
    expect(accepted.body).to.include({ status: 'accepted', assignee: 'ann@example.com' });
    expect(accepted.body.history.at(-1)).to.include({ action: 'accepted', actor: 'key:ann-tool for ann@example.com' });

    const closed = await post('close', keys.admin!, { resolution: 'handed over', user: 'bob@example.com' });
    expect(closed.status).to.equal(200);
    expect(closed.body.history.at(-1)).to.include({ action: 'closed', actor: 'key:team-tool for bob@example.com' });
  });
});
