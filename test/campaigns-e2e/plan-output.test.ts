import { expect } from 'chai';
import { renderPlan } from '../../src/cli/commands/plan.ts';

describe('plan output', () => {
  it('prints recipients, suppressions and ends with counts per reason', () => {
    const text = renderPlan({
      campaign: 'spring',
      recipients: [{ lead: 'a', step: 'offer', channel: 'email', persona: 'vip', template: 'spring-offer/vip.email.hbs', send_at: '2026-11-23T09:00:00+01:00' }],
      suppressed: [
        { lead: 'b', step: 'offer', reason: 'withdrawn' },
        { lead: 'c', step: 'offer', reason: 'no_consent' },
        { lead: 'd', step: 'offer', reason: 'no_consent' },
      ],
    });
    expect(text.trimEnd().split('\n').slice(-3)).to.deep.equal(['1 recipient(s), 3 suppressed', '  no_consent   2', '  withdrawn    1']);
    expect(text).to.contain('a     offer  email    vip      spring-offer/vip.email.hbs  2026-11-23T09:00:00+01:00');
  });
});
