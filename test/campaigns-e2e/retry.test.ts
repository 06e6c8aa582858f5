import { expect } from 'chai';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { settled, testEngine, type TestEngine } from '../helpers/engine.ts';
import { seedLeads } from '../helpers/seed.ts';
import { recipient, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

describe('SMTP failures during a run', () => {
  let t: TestEngine;
  let sink: SmtpSink;
  const refusals = new Map<string, number>();
  /** The mailbox that refused for good, until its owner fixed it. */
  let goneFixed = false;

  before(async () => {
    sink = await startSmtpSink({
      refuse(rcpt) {
        if (rcpt.startsWith('gone') && !goneFixed) return { code: 550, message: 'no such mailbox' };
        // Busy twice, then accepted.
        const seen = refusals.get(rcpt) ?? 0;
        refusals.set(rcpt, seen + 1);
        if (rcpt.startsWith('busy') && seen < 2) return { code: 451, message: 'try again later' };
        return undefined;
      },
    });
    t = await testEngine({ SMTP_URL: sink.url, DISPATCH_RETRY_BASE_MS: '20' });
    await seedLeads(t.database, [
      { id: 'ok', email: 'ok@example.com', first: 'Oki', locale: null, orders: 1, consent: ['grant', 'confirm'] },
      { id: 'busy', email: 'busy@example.com', first: 'Bea', locale: null, orders: 1, consent: ['grant', 'confirm'] },
      { id: 'gone', email: 'gone@example.com', first: 'Gil', locale: null, orders: 1, consent: ['grant', 'confirm'] },
    ]);
  });
  after(async () => {
    await t.close();
    await sink.close();
  });

  it('retries transient refusals with backoff and records permanent ones without retrying', async () => {
    await t.engine.startDispatcher();
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence: 'retry', trigger: 'manual' });
    const summary = await settled(t, 'spring', 'retry');
    expect(summary).to.include({ sent: 2, failed: 1 });
    expect(summary.reasons).to.deep.equal({ rejected: 1 });
    expect(sink.messages.map(recipient).sort()).to.deep.equal(['busy@example.com', 'ok@example.com']);

    const { rows } = await t.database.pool.query(
      `SELECT l.external_id, m.status, m.attempts, m.last_error FROM messages m JOIN leads l ON l.id = m.lead_id ORDER BY 1`,
    );
    expect(rows.map((r) => [r.external_id, r.status, r.attempts])).to.deep.equal([
      ['busy', 'sent', 3],
      ['gone', 'failed', 1],
      ['ok', 'sent', 1],
    ]);
    expect(rows[1].last_error).to.contain('550');
  });

  it('sends a refused message again after the fix, once however often the retry runs, and leaves what was sent alone', async () => {
    const set = t.engine.loadCampaigns();
    const spring = requireCampaign(set, 'spring');
    // A retry for render failures only does not touch what the provider refused.
    expect(await t.engine.retry(spring, set, { reason: 'render_error' })).to.include({ resent: 0 });
    goneFixed = true;
    expect(await t.engine.retry(spring, set, {})).to.include({ resent: 1 });
    expect(await settled(t, 'spring', 'retry')).to.include({ sent: 3, failed: 0 });
    expect(await t.engine.retry(spring, set, {})).to.include({ resent: 0 });
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.messages.map(recipient).sort()).to.deep.equal(['busy@example.com', 'gone@example.com', 'ok@example.com']);
    const { rows } = await t.database.pool.query(
      `SELECT m.status, m.attempts, m.possible_duplicate FROM messages m JOIN leads l ON l.id = m.lead_id WHERE l.external_id = 'gone'`,
    );
    expect(rows).to.deep.equal([{ status: 'sent', attempts: 1, possible_duplicate: false }]);
  });
});
