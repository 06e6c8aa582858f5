import { expect } from 'chai';
import { saveUser } from '../../src/access/users.ts';
import { ManualClock } from '../../src/clock.ts';
import { formatTime } from '../../src/http/ui/views.ts';
import { logIn, useServedEngine } from '../helpers/web.ts';

const PASSWORD = 'correct horse battery';

describe('times on the web UI’s pages', function () {
  this.timeout(30_000);
  const served = useServedEngine({ UI_TIMEZONE: 'Europe/Berlin' }, new ManualClock('2026-07-01T12:00:00Z'));

  it('are shown to the minute in the named zone, across daylight saving time', () => {
    expect(formatTime(new Date('2026-07-01T12:00:00Z'), 'UTC')).to.equal('2026-07-01 12:00 UTC');
    expect(formatTime('2026-07-01T12:00:00Z', 'Europe/Berlin')).to.equal('2026-07-01 14:00 Europe/Berlin');
    expect(formatTime('2026-12-31T23:30:00Z', 'Europe/Berlin')).to.equal('2027-01-01 00:30 Europe/Berlin');
  });

  it('follow UI_TIMEZONE on a page', async () => {
    const { t, web } = served();
    await saveUser(t.database.pool, { email: 'cora@example.com', role: 'compliance', password: PASSWORD });
    const { cookie } = await logIn(web.base, 'cora@example.com', PASSWORD);
    const html = await (await fetch(`${web.base}/audit/verify`, { headers: { cookie } })).text();
    expect(html).to.contain('Checked 2026-07-01 14:00 Europe/Berlin');
  });
});
