import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadCampaignSet } from '../../src/campaigns/load.ts';
import { sentimentOf } from '../../src/inbound/sentiment.ts';
import { surveyReply } from '../../src/inbound/csat.ts';
import { formatProblem } from '../../src/yaml/problems.ts';

describe('reply sentiment', () => {
  it('scores English and German replies of known polarity, in the person’s language or either', () => {
    for (const [text, language] of [
      ['I am very disappointed: my order arrived broken. Terrible.', 'en'],
      ['This is not good at all', 'en'],
      ['Ich bin sehr enttäuscht, das Produkt ist kaputt und schlecht.', 'de'],
      ['Das ist nicht gut', 'de'],
    ] as const) {
      expect(sentimentOf(text, language), text).to.be.below(-0.05);
      expect(sentimentOf(text, null), `${text} (language unknown)`).to.be.below(-0.05);
    }
    for (const [text, language] of [
      ['Thank you, great service, I love it!', 'en'],
      ['Vielen Dank, toller Service, ich bin sehr zufrieden.', 'de'],
    ] as const) {
      expect(sentimentOf(text, language), text).to.be.above(0.03);
      expect(sentimentOf(text, null), `${text} (language unknown)`).to.be.above(0.03);
    }
    expect(sentimentOf('Where is my parcel?', 'en')).to.equal(0);
    expect(sentimentOf('?!', 'en')).to.equal(null);
  });
});

describe('survey replies', () => {
  it('reads a digit 1–5 first as the answer and the rest as its comment; anything else is no answer', () => {
    expect(surveyReply('2')).to.deep.equal({ score: 2 });
    expect(surveyReply(' 5. ')).to.deep.equal({ score: 5 });
    expect(surveyReply('3 - friendly, but slow')).to.deep.equal({ score: 3, comment: 'friendly, but slow' });
    for (const text of ['12', '0', '6', 'thanks', 'Order 4711 is late', '']) expect(surveyReply(text), text).to.equal(undefined);
  });
});

describe('validate knows the contact events', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contact-events-'));
    fs.mkdirSync(path.join(dir, 'campaigns'));
    fs.cpSync(path.resolve('templates'), path.join(dir, 'templates'), { recursive: true });
    const campaign = (id: string, trigger: string) =>
      `id: ${id}\nname: ${id}\nkind: event\npurpose: service\ntrigger: ${trigger}\nsteps:\n  - id: ask\n    channel: email\n    template: csat-survey\n`;
    fs.writeFileSync(path.join(dir, 'campaigns', 'misspelt.yaml'), campaign('misspelt', '{ event: contact_close }'));
    fs.writeFileSync(
      path.join(dir, 'campaigns', 'where.yaml'),
      campaign('where', '{ event: contact_closed, where: { categry: complaint, first_name: Kim } }'),
    );
    fs.writeFileSync(
      path.join(dir, 'campaigns', 'fine.yaml'),
      campaign('fine', '{ event: contact_closed, where: { category: complaint } }'),
    );
    fs.writeFileSync(path.join(dir, 'campaigns', 'own.yaml'), campaign('own', '{ event: order_placed }').replace('csat-survey', 'welcome'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a misspelt contact event is an error, a where on a property the event lacks a warning, each at file:line:col', () => {
    const set = loadCampaignSet({ campaignsDir: path.join(dir, 'campaigns'), templatesDir: path.join(dir, 'templates') });
    const problems = set.problems.map((p) => formatProblem(p, dir));
    expect(problems).to.deep.equal([
      'campaigns/misspelt.yaml:5:19 ' +
        "'contact_close' is not an event Touchpoint emits; contact events are: contact_received, contact_closed, sales_opportunity, csat_answered",
      // `first_name` is a lead field: read from the lead, as meant.
      "campaigns/where.yaml:5:44 warning: contact_closed has no property 'categry' " +
        "(it has: contact, queue, category, resolution, handled_by, first_response_minutes); this condition reads the lead's attribute 'categry' instead",
    ]);
    expect([...set.campaigns.keys()].sort()).to.deep.equal(['fine', 'own', 'where']);
  });
});
