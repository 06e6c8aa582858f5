import { expect } from 'chai';
import { freshDatabase } from './helpers/db.ts';

describe('database', () => {
  it('opens a fresh migrated database', async () => {
    const db = await freshDatabase();
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM leads');
    expect(rows[0].n).to.equal(0);
    await db.close();
  });
});
