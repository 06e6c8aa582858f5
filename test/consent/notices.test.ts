import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { saveUser } from '../../src/access/users.ts';
import { loadNotices, sha256 } from '../../src/consent/notices.ts';
import { proofCsv } from '../../src/consent/proof.ts';
import { verifyLedger } from '../../src/consent/verify.ts';
import { AppError } from '../../src/errors.ts';
import { saveLeads } from '../../src/leads/store.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { apiKeyFor } from '../helpers/keys.ts';
import { contactLead } from '../helpers/seed.ts';
import { logIn, startWeb, type TestWeb } from '../helpers/web.ts';

const PASSWORD = 'correct horse battery';
const EN = 'We text you our offers, at most once a week.\nReply STOP to end them.\n';
const DE = 'Wir senden Ihnen höchstens einmal pro Woche Angebote per SMS.\nAntworten Sie STOP, um sie zu beenden.\n';

/**
 * Issue 17, notices: the texts in `notices/<purpose>/<version>.<locale>.md` are loaded and hashed
 * at start; a consent event naming a stored version must carry its text (API 422 naming the
 * version, an import row named), and proofs (JSON, CSV, the audit page) show the text the person
 * saw, or that a version is unknown.
 */
describe('consent notices: what the person was told', function () {
  this.timeout(60_000);
  let t: TestEngine;
  let web: TestWeb;
  let dir: string;
  let key: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'notices-'));
    fs.mkdirSync(path.join(dir, 'marketing'));
    fs.writeFileSync(path.join(dir, 'marketing', 'v7.en.md'), EN);
    fs.writeFileSync(path.join(dir, 'marketing', 'v7.de.md'), DE);
    web = await startWeb();
    t = await testEngine({ PUBLIC_URL: web.base, NOTICES_DIR: dir });
    web.serve(t.engine);
    await saveUser(t.database.pool, { email: 'carl@example.com', name: 'Carl', role: 'compliance', password: PASSWORD });
    key = await apiKeyFor(t.database, 'marketer');
    await saveLeads(t.database.pool, [
      contactLead('n-1', null, '+4915100000001'),
      contactLead('n-2', null, '+4915100000002'),
      contactLead('n-3', null, '+4915100000003'),
    ]);
  });
  after(async () => {
    await web.close();
    await t.close();
  });

  const grant = (lead: string, notice: { version: string; text: string }) =>
    fetch(`${web.base}/api/v1/consents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ lead, channel: 'sms', purpose: 'marketing', action: 'grant', source: 'signup-form', notice }),
    });

  it('records a grant whose notice text is the stored one, and shows that text in the JSON, CSV and audit page proofs', async () => {
    expect((await grant('n-1', { version: 'v7', text: DE })).status).to.equal(201);
    const proof = await t.engine.consent.proof('n-1');
    expect(proof.consent_events[0]!.notice_hash).to.equal(sha256(DE));
    expect(proof.consent_events[0]!.notice).to.deep.equal({ version: 'v7', locale: 'de', text: DE });
    expect(proofCsv(proof)).to.contain('höchstens einmal pro Woche');
    const carl = await logIn(web.base, 'carl@example.com', PASSWORD);
    const page = await (await fetch(`${web.base}/audit/leads/n-1`, { headers: { cookie: carl.cookie } })).text();
    expect(page).to.contain('<blockquote class="notice" lang="de">Wir senden Ihnen höchstens einmal pro Woche');
  });

  it('refuses a stored version with another text: 422 naming the version, nothing recorded', async () => {
    const res = await grant('n-2', { version: 'v7', text: 'We text you whenever we like.' });
    expect(res.status).to.equal(422);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).to.equal('unprocessable');
    expect(body.message).to.contain("notice version 'v7'").and.contain('does not match the stored notice');
    expect((await t.engine.consent.proof('n-2')).consent_events).to.deep.equal([]);
  });

  it('takes a version the store does not hold and shows it as unknown', async () => {
    expect((await grant('n-3', { version: 'v6', text: 'An older wording' })).status).to.equal(201);
    const proof = await t.engine.consent.proof('n-3');
    expect(proof.consent_events[0]!.notice).to.deep.equal({ version: 'v6', unknown: true });
    expect(proofCsv(proof)).to.contain('unknown version: not in the notice store');
    const carl = await logIn(web.base, 'carl@example.com', PASSWORD);
    const page = await (await fetch(`${web.base}/audit/leads/n-3`, { headers: { cookie: carl.cookie } })).text();
    expect(page).to.contain('data-notice-unknown');
  });

  it('names an import row whose notice hash is not the stored text, and imports the others; the chain still verifies', async () => {
    const file = path.join(dir, 'consents.csv');
    fs.writeFileSync(
      file,
      [
        'external_id,channel,purpose,action,occurred_at,source,notice_version,notice_hash',
        `n-2,sms,marketing,grant,2025-01-01T10:00:00Z,paper-form,v7,${sha256(EN)}`,
        `n-2,sms,marketing,withdraw,2025-02-01T10:00:00Z,paper-form,v7,${'b'.repeat(64)}`,
      ].join('\n') + '\n',
    );
    const report = await t.engine.consent.import(file);
    expect(report.imported).to.equal(1);
    expect(report.rejected).to.have.length(1);
    expect(report.rejected[0]!.row).to.equal(3);
    expect(String(report.rejected[0]!.reason)).to.contain("notice version 'v7'");
    const proof = await t.engine.consent.proof('n-2');
    expect(proof.consent_events.map((e) => e.notice)).to.deep.equal([{ version: 'v7', locale: 'en', text: EN }]);
    expect(await verifyLedger(t.database.pool)).to.not.have.property('broken');
  });

  it('refuses at start a notice file named otherwise, naming it', () => {
    const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'notices-bad-'));
    fs.mkdirSync(path.join(bad, 'marketing'));
    fs.writeFileSync(path.join(bad, 'marketing', 'v1.md'), 'no locale');
    expect(() => loadNotices(bad))
      .to.throw(AppError)
      .with.property('message')
      .that.contains('v1.md')
      .and.contains('<version>.<locale>.md');
    expect(loadNotices(path.join(bad, 'missing')).size).to.equal(0);
  });
});
