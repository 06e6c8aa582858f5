import { expect } from 'chai';
import { planSummary } from '../../src/campaigns/plan-output.ts';
import type { Plan } from '../../src/campaigns/plan.ts';
import { renderPlan } from '../../src/cli/commands/plan.ts';

describe('plan output', () => {
  it('prints counts, a sample of recipients and suppressions, and ends with counts per reason', async () => {
    const plan: Plan = {
      campaign: 'spring',
      recipients: [
        {
          lead: 'a',
          step: 'offer',
          channel: 'email',
          persona: 'vip',
          template: 'spring-offer/vip.email.hbs',
          send_at: '2026-11-23T09:00:00+01:00',
        },
        {
          lead: 'e',
          step: 'offer',
          channel: 'sms',
          persona: 'vip',
          template: 'spring-offer/vip.sms.hbs',
          send_at: '2026-11-23T09:00:00+01:00',
          encoding: 'UCS-2',
          segments: 2,
        },
      ],
      suppressed: [
        { lead: 'b', step: 'offer', reason: 'withdrawn' },
        { lead: 'c', step: 'offer', reason: 'no_consent' },
        { lead: 'd', step: 'offer', reason: 'no_consent' },
      ],
      sms: { messages: 1, segments: 2 },
    };
    const text = renderPlan(await planSummary(plan.campaign, [plan]));
    expect(text.trimEnd().split('\n').slice(-4)).to.deep.equal([
      '2 recipient(s), 3 suppressed',
      'SMS cost: 1 message(s), 2 segment(s)',
      '  no_consent   2',
      '  withdrawn    1',
    ]);
    expect(text).to.match(/a +offer +email +vip +spring-offer\/vip\.email\.hbs +2026-11-23T09:00:00\+01:00/);
    expect(text).to.match(/e +offer +sms +vip +spring-offer\/vip\.sms\.hbs +2026-11-23T09:00:00\+01:00 +2 UCS-2/);
    expect(text).to.match(/persona +count\n-+ +-+\nvip +2\n/);
    expect(text).to.match(/local send hour +count\n-+ +-+\n09:00 +2\n/);
    expect(text).to.contain('First 2 of 2 recipient(s):');
  });
});
