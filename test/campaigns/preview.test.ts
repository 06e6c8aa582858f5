import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadCampaignSet, requireCampaign } from '../../src/campaigns/load.ts';
import { previewStep } from '../../src/campaigns/preview.ts';
import { AppError } from '../../src/errors.ts';
import type { Lead } from '../../src/leads/types.ts';
import { TemplateRenderer } from '../../src/render/render.ts';

const files: Record<string, string> = {
  'campaigns/personas.yaml':
    'personas:\n  - id: vip\n    match: { orders: { gte: 10 } }\n    greeting: Dear\n  - id: regular\n    greeting: Hi\n',
  'campaigns/welcome.yaml': [
    'id: welcome',
    'name: Welcome',
    'kind: event',
    'purpose: marketing',
    'trigger: { event: signed_up }',
    'steps:',
    '  - id: hello',
    '    channel: email',
    '    template: welcome',
    '  - id: nudge',
    '    wait: 1d',
    '    channel: sms',
    '    template: nudge',
    '',
  ].join('\n'),
  'templates/welcome/default.email.hbs':
    '---\nsubject: "{{persona.greeting}} {{lead.first_name}}, welcome to {{event.plan}}"\n---\n<p>{{#if lead.nickname}}Hey {{lead.nickname}}!{{/if}}You have {{lead.orders}} orders.</p><a href="{{unsubscribe_url}}">Unsubscribe</a>\n',
  'templates/nudge/default.sms.hbs': '{{lead.first_name}}, your {{event.plan}} plan awaits. STOP to opt out',
};

/** What the campaign page and `touchpoint preview` show, from the one function that renders it. */
describe('previewing a step', () => {
  let dir: string;
  let preview: (stepId: string, who: Parameters<typeof previewStep>[4]) => ReturnType<typeof previewStep>;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tp-preview-'));
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), text);
    }
    const templatesDir = path.join(dir, 'templates');
    const set = loadCampaignSet({ campaignsDir: path.join(dir, 'campaigns'), templatesDir });
    expect(set.problems.filter((p) => p.severity === 'error')).to.deep.equal([]);
    const deps = { renderer: new TemplateRenderer(templatesDir), templatesDir, publicUrl: 'https://tp.example' };
    preview = (stepId, who) => previewStep(deps, set, requireCampaign(set, 'welcome'), stepId, who);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('shows a persona’s sample person with placeholders for what only real people and events have, leaving guarded parts out', () => {
    const email = preview('hello', { persona: 'vip', locale: null });
    expect(email).to.include({
      channel: 'email',
      persona: 'vip',
      template: 'welcome/default.email.hbs',
      subject: 'Dear [first_name], welcome to [plan]',
    });
    expect(email.html).to.contain('You have [orders] orders.').and.not.contain('Hey');
    expect(email.html).to.contain('https://tp.example/unsubscribe/');
    expect(email.text).to.contain('You have [orders] orders.');
    expect(email.lead).to.equal(undefined);
  });

  it('renders a stored lead’s own data, and an SMS step with its segments', () => {
    const lead: Lead = {
      id: 7,
      externalId: 'c-7',
      email: 'ada@example.com',
      phone: '+4915112345678',
      firstName: 'Ada',
      lastName: 'Lovelace',
      locale: null,
      timezone: null,
      persona: null,
      tags: [],
      attributes: { orders: 12 },
    };
    const sms = preview('nudge', { lead });
    expect(sms).to.include({ channel: 'sms', persona: 'vip', to: '+4915112345678', text: 'Ada, your [plan] plan awaits. STOP to opt out' });
    expect(sms.lead).to.deep.equal({ externalId: 'c-7', name: 'Ada Lovelace' });
    // 45 characters; `[` and `]` are GSM-7 extension characters of two septets each.
    expect(sms.sms).to.deep.equal({ encoding: 'GSM-7', segments: 1, units: 47 });
    expect(lead.attributes, 'a stored lead is not changed').to.deep.equal({ orders: 12 });
  });

  it('names what is unknown: a step, a persona', () => {
    const refusal = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        expect(err).to.be.instanceOf(AppError);
        return (err as AppError).message;
      }
      throw new Error('no error');
    };
    expect(refusal(() => preview('bye', { persona: 'vip', locale: null }))).to.equal("welcome has no step 'bye' (steps: hello, nudge)");
    expect(refusal(() => preview('hello', { persona: 'nobody', locale: null }))).to.equal("no persona 'nobody' (personas: vip, regular)");
  });
});
