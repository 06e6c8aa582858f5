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

  it('follow each person’s own zone once they set it, and UI_TIMEZONE for the others', async () => {
    const { t, web } = served();
    await saveUser(t.database.pool, { email: 'nao@example.com', role: 'compliance', password: PASSWORD });
    await saveUser(t.database.pool, { email: 'otto@example.com', role: 'compliance', password: PASSWORD });
    const nao = await logIn(web.base, 'nao@example.com', PASSWORD);
    const setZone = (zone: string, csrf = nao.csrf) =>
      fetch(`${web.base}/me/time-zone`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: nao.cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf, time_zone: zone, next: '/audit/verify' }).toString(),
      });
    const verify = async (cookie: string) => (await fetch(`${web.base}/audit/verify`, { headers: { cookie } })).text();

    expect((await setZone('Asia/Tokyo', 'forged')).status).to.equal(403);
    const bad = await setZone('Mars/Olympus');
    expect(bad.status).to.equal(400);
    expect(await bad.text()).to.contain('&#x27;Mars/Olympus&#x27; is not a time zone');

    const set = await setZone('Asia/Tokyo');
    expect(set.status).to.equal(303);
    expect(set.headers.get('location')).to.equal('/audit/verify');
    expect(await verify(nao.cookie)).to.contain('Checked 2026-07-01 21:00 Asia/Tokyo');
    const otto = await logIn(web.base, 'otto@example.com', PASSWORD);
    expect(await verify(otto.cookie)).to.contain('Checked 2026-07-01 14:00 Europe/Berlin');

    await setZone('');
    expect(await verify(nao.cookie)).to.contain('Checked 2026-07-01 14:00 Europe/Berlin');
  });
});
