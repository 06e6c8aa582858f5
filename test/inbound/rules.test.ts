import path from 'node:path';
import { expect } from 'chai';
import { loadCampaignSet } from '../../src/campaigns/load.ts';
import type { Campaign } from '../../src/campaigns/types.ts';
import { dueAfter } from '../../src/inbound/business-hours.ts';
import { DEFAULT_INBOUND, qualify, type BusinessHours } from '../../src/inbound/rules.ts';
import { formatProblem } from '../../src/yaml/problems.ts';

const BROKEN = path.resolve('test/fixtures/inbound-broken');
const GOOD = path.resolve('test/fixtures/inbound');

describe('inbound.yaml', () => {
  it('reports every mistake at its line and column, and falls back to one default queue', () => {
    const set = loadCampaignSet({ campaignsDir: path.join(BROKEN, 'campaigns'), templatesDir: path.join(BROKEN, 'templates') });
    expect(set.problems.map((p) => formatProblem(p, BROKEN))).to.deep.equal([
      "campaigns/inbound.yaml:4:32 'queues[0].members[1]' must be a valid email",
      "campaigns/inbound.yaml:6:23 'queues[0].service_level.first_response' must be a duration like 30s, 15m, 2h, 3d or 1w, got '4 hours'",
      "campaigns/inbound.yaml:7:37 'queues[0].service_level.business_hours.days[1]' must be one of mon, tue, wed, thu, fri, sat, sun",
      "campaigns/inbound.yaml:11:15 'rules[0].category' must be one of question, complaint, purchase-interest, opt-out, other",
      "campaigns/inbound.yaml:16:5 unknown key 'rules[1].colour'",
    ]);
    expect(set.inbound).to.equal(DEFAULT_INBOUND);
  });

  it('checks references once the shape is right: queues, regular expressions, business hours', () => {
    const fixed = path.resolve('test/fixtures/inbound-refs');
    const set = loadCampaignSet({ campaignsDir: path.join(fixed, 'campaigns'), templatesDir: path.join(fixed, 'templates') });
    expect(set.problems.map((p) => formatProblem(p, fixed))).to.deep.equal([
      "campaigns/inbound.yaml:1:16 unknown queue 'nowhere'; defined queues: retention",
      'campaigns/inbound.yaml:7:62 business hours must end after they start (17:00–09:00)',
      'campaigns/inbound.yaml:10:21 not a valid regular expression: Invalid regular expression: /unclosed(/i: Unterminated group',
      "campaigns/inbound.yaml:15:12 unknown queue 'vip-desk'; defined queues: retention",
    ]);
  });

  it('qualifies by the first matching rule, else `other` in the campaign reply queue', () => {
    const set = loadCampaignSet({ campaignsDir: path.join(GOOD, 'campaigns'), templatesDir: path.join(GOOD, 'templates') });
    expect(set.problems).to.deep.equal([]);
    const campaign = set.campaigns.get('followup') as Campaign;
    const q = (text: string, extra: { campaign?: Campaign } = { campaign }) =>
      qualify(set.inbound, { text, channel: 'email', campaign: extra.campaign, persona: 'regular', language: 'en' });
    expect(q('Please REMOVE   me now')).to.include({ category: 'opt-out', priority: 'high', queue: 'retention', rule: 'opt-out' });
    expect(q('stop sending these')).to.include({ category: 'opt-out' });
    expect(q('I removed memories')).to.include({ category: 'other', rule: null });
    expect(q('What is the price?')).to.include({ category: 'purchase-interest', queue: 'retention' });
    // The purchase rule is for the followup campaign only.
    expect(q('What is the price?', {})).to.include({ category: 'other', queue: 'general' });
    expect(q('The product arrived broken')).to.include({ category: 'complaint', priority: 'urgent' });
  });
});

describe('due times in business hours', () => {
  const berlin: BusinessHours = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00', timezone: 'Europe/Berlin' };

  it('counts only open hours, across nights and weekends', () => {
    const due = (iso: string, duration: string) => dueAfter(new Date(iso), duration, berlin).toISOString();
    expect(due('2026-03-02T10:00:00Z', '4h')).to.equal('2026-03-02T14:00:00.000Z'); // Mon 11:00 → 15:00
    expect(due('2026-03-06T15:00:00Z', '4h')).to.equal('2026-03-09T11:00:00.000Z'); // Fri 16:00 → Mon 12:00
    expect(due('2026-03-07T10:00:00Z', '30m')).to.equal('2026-03-09T08:30:00.000Z'); // Sat → Mon 09:30
    expect(due('2026-03-02T05:00:00Z', '8h')).to.equal('2026-03-02T16:00:00.000Z'); // before opening → whole day
  });

  it('keeps opening times on the wall clock across the DST switch', () => {
    // Fri 27 March 2026 16:00 CET; clocks spring forward on Sunday the 29th: Monday opens 09:00 CEST (07:00Z).
    expect(dueAfter(new Date('2026-03-27T15:00:00Z'), '2h', berlin).toISOString()).to.equal('2026-03-30T08:00:00.000Z');
  });

  it('without business hours, is simply the duration later', () => {
    expect(dueAfter(new Date('2026-03-07T10:00:00Z'), '1d').toISOString()).to.equal('2026-03-08T10:00:00.000Z');
  });
});

describe('the sample inbound.yaml', () => {
  it('validates and sorts typical replies', () => {
    const set = loadCampaignSet({ campaignsDir: path.resolve('campaigns'), templatesDir: path.resolve('templates') });
    expect(set.problems).to.deep.equal([]);
    const campaign = set.campaigns.get('winback-q4');
    const category = (text: string) =>
      qualify(set.inbound, { text, channel: 'email', campaign, persona: undefined, language: 'en' }).category;
    expect(category('Does it fit size 42?')).to.equal('question');
    expect(category('Please remove me')).to.equal('opt-out');
    expect(category('No more emails, thanks.')).to.equal('opt-out');
    expect(category('Is there a discount on boots')).to.equal('purchase-interest');
    expect(category('Great, see you at the border')).to.equal('other');
    // A complaint needs someone with the `complaints` skill.
    const refund = qualify(set.inbound, { text: 'I want a refund', channel: 'email', campaign, persona: undefined, language: 'en' });
    expect(refund).to.deep.include({ category: 'complaint', priority: 'urgent', skills: ['complaints'] });
    expect(qualify(set.inbound, { text: 'hi', channel: 'email', campaign, persona: undefined, language: 'en' }).queue).to.equal(
      'retention',
    );
  });
});
