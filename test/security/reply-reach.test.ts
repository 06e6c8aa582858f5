import path from 'node:path';
import { expect } from 'chai';
import { createApiKey } from '../../src/access/keys.ts';
import type { Role } from '../../src/access/schema.ts';
import { saveUser } from '../../src/access/users.ts';
import { ManualClock } from '../../src/clock.ts';
import { startInboundApp, type InboundApp } from '../helpers/inbound-app.ts';
import { seedLeads } from '../helpers/seed.ts';
import { deliverMail } from '../helpers/smtp.ts';
import { logIn } from '../helpers/web.ts';

/**
 * Issue 11, item 2: the words of a reply reach only those whose inbox reaches it. Pat writes twice:
 * once to retention (served by rita only), once to general (served by gus only). Before the fix,
 * gus read the retention reply through the lead timeline and in the history on the page of his own
 * contact with Pat, while opening it directly answered 404; marketers saw every reply's subject.
 */

const FIXTURE = path.resolve('test/fixtures/reply-reach');
const PASSWORD = 'correct horse battery';
const SECRET_SUBJECT = 'Cancel my contract';
const SECRET_TEXT = 'Please cancel. My IBAN is DE02 1203 0000 0000 2020 51';
const OWN_SUBJECT = 'Parcel';
const OWN_TEXT = 'Where is my parcel?';

interface Reply {
  kind: string;
  detail: { contact: number; subject: string | null; text: string | null; category: string };
}

describe('security: reply text never leaks across queues', function () {
  this.timeout(60_000);
  let app: InboundApp;
  const keys: Record<string, string> = {};
  let retention: number;
  let general: number;

  before(async () => {
    const clock = new ManualClock(new Date());
    app = await startInboundApp({ CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns') }, clock);
    const { t, inbound, domain } = app;
    for (const email of ['gus@example.com', 'rita@example.com']) {
      await saveUser(t.database.pool, { email, role: 'service', password: PASSWORD });
      keys[email.split('@')[0]!] = (await createApiKey(t.database.pool, 'service', email, email)).key;
    }
    for (const role of ['admin', 'marketer', 'compliance'] as Role[]) keys[role] = (await createApiKey(t.database.pool, role, role)).key;
    await seedLeads(t.database, [
      { id: 'pat', email: 'pat@example.com', first: 'Pat', locale: null, orders: 1, consent: ['grant', 'confirm'] },
    ]);
    const write = async (subject: string, text: string) => {
      await deliverMail(inbound.port, { from: 'pat@example.com', to: `hello@${domain}`, subject, text });
      const { contacts } = await get<{ contacts: { id: number; subject: string }[] }>('/api/v1/inbound?lead=pat', 'admin');
      return contacts.find((c) => c.subject === subject)!.id;
    };
    retention = await write(SECRET_SUBJECT, SECRET_TEXT);
    // Days later, so that it is a contact of its own rather than a later message on the first.
    clock.advance(4 * 24 * 60 * 60 * 1000);
    general = await write(OWN_SUBJECT, OWN_TEXT);
  });
  after(() => app.close());

  async function get<T>(p: string, who: string): Promise<T> {
    const res = await fetch(app.web.base + p, { headers: { authorization: `Bearer ${keys[who]}` } });
    expect(res.status, `${who} GET ${p}`).to.equal(200);
    return (await res.json()) as T;
  }
  const replies = async (who: string) =>
    (await get<{ timeline: Reply[] }>('/api/v1/leads/pat/timeline', who)).timeline.filter((e) => e.kind === 'reply');
  const words = (entries: Reply[]) =>
    Object.fromEntries(entries.map((e) => [e.detail.contact === retention ? 'retention' : 'general', [e.detail.subject, e.detail.text]]));

  it('the lead timeline shows a service key the words of replies in its reach only, and marketers none', async () => {
    expect(words(await replies('gus'))).to.deep.equal({ retention: [null, null], general: [OWN_SUBJECT, OWN_TEXT] });
    expect(words(await replies('rita'))).to.deep.equal({ retention: [SECRET_SUBJECT, SECRET_TEXT], general: [null, null] });
    expect(words(await replies('marketer'))).to.deep.equal({ retention: [null, null], general: [null, null] });
    for (const who of ['admin', 'compliance'])
      expect(words(await replies(who))).to.deep.equal({ retention: [SECRET_SUBJECT, SECRET_TEXT], general: [OWN_SUBJECT, OWN_TEXT] });
    // That a reply exists, and its category, stay visible: counts are what marketers learn from.
    expect((await replies('marketer')).map((e) => e.detail.category).sort()).to.deep.equal(['complaint', 'other']);
  });

  it('his own contact with the same person shows gus the retention reply nowhere, in the API or on the page', async () => {
    const own = JSON.stringify(await get(`/api/v1/inbound/${general}`, 'gus'));
    expect(own).to.contain(OWN_TEXT);
    expect(own).not.to.contain('IBAN');
    expect(own).not.to.contain(SECRET_SUBJECT);
    expect(
      (await fetch(`${app.web.base}/api/v1/inbound/${retention}`, { headers: { authorization: `Bearer ${keys.gus}` } })).status,
    ).to.equal(404);

    const gus = await logIn(app.web.base, 'gus@example.com', PASSWORD);
    const page = await fetch(`${app.web.base}/inbox/${general}`, { headers: { cookie: gus.cookie } });
    expect(page.status).to.equal(200);
    const html = await page.text();
    expect(html).to.contain(OWN_TEXT);
    expect(html).not.to.contain('IBAN');
    expect(html).not.to.contain(SECRET_SUBJECT);
    expect((await fetch(`${app.web.base}/inbox/${retention}`, { headers: { cookie: gus.cookie } })).status).to.equal(404);
  });

  it('is the inbox’s rule: once the retention reply is handed to gus, he reads it everywhere', async () => {
    const res = await fetch(`${app.web.base}/api/v1/inbound/${retention}/assign`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'gus@example.com' }),
    });
    expect(res.status).to.equal(200);
    expect(words(await replies('gus'))).to.deep.equal({ retention: [SECRET_SUBJECT, SECRET_TEXT], general: [OWN_SUBJECT, OWN_TEXT] });
    expect(JSON.stringify(await get(`/api/v1/inbound/${general}`, 'gus'))).to.contain('IBAN');
  });
});
