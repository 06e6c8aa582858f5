import { expect } from 'chai';
import { CHANNELS } from '../../src/channels/channel.ts';
import type { Database } from '../../src/db/index.ts';
import { consentVerdict, refusalSql, UNGATED_PURPOSES, type ConsentStatus } from '../../src/consent/state.ts';
import { freshDatabase } from '../helpers/db.ts';

/**
 * A send decides consent in the database at the instant it starts (messages/attempt.ts), with the
 * SQL form of the rule that everything else applies in TypeScript: the two must never differ.
 */
describe('consent verdict in SQL', () => {
  let database: Database;
  before(async () => {
    database = await freshDatabase();
  });
  after(() => database.close());

  it('refuses exactly what consentVerdict refuses, for the same reason, and never an ungated purpose', async () => {
    const statuses: (ConsentStatus | null)[] = [null, 'granted', 'confirmed', 'withdrawn'];
    const purposes = ['marketing', 'newsletter', ...UNGATED_PURPOSES];
    const cases = statuses.flatMap((status) => CHANNELS.flatMap((channel) => purposes.map((purpose) => ({ status, channel, purpose }))));
    const { rows } = await database.pool.query<{ refusal: string | null }>(
      `SELECT ${refusalSql({ status: 'c.status', channel: 'c.channel', purpose: 'c.purpose' })} AS refusal
         FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS c(status, channel, purpose, n) ORDER BY c.n`,
      [cases.map((c) => c.status), cases.map((c) => c.channel), cases.map((c) => c.purpose)],
    );
    const expected = cases.map(({ status, channel, purpose }) => {
      if (UNGATED_PURPOSES.has(purpose)) return null;
      const verdict = consentVerdict(status ? { status, decidingEventId: 1 } : undefined, channel, purpose);
      return verdict.allowed ? null : verdict.reason;
    });
    expect(rows.map((r) => r.refusal)).to.deep.equal(expected);
    expect(expected).to.include.members(['no_consent', 'unconfirmed', 'withdrawn', null]);
  });
});
