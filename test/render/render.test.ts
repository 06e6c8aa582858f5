import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { AppError } from '../../src/errors.ts';
import { TemplateRenderer, type RenderContext } from '../../src/render/render.ts';
import { findTemplate, templateCandidates } from '../../src/render/templates.ts';

function context(lead: Record<string, unknown>): RenderContext {
  return {
    lead,
    persona: { id: 'vip', greeting: 'Dear' },
    campaign: { id: 'c', name: 'C', step: 's' },
    unsubscribe_url: 'https://t.example/unsubscribe/tok?x=1&y=2',
  };
}

describe('templates', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'templates-'));
    const write = (name: string, body: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), body);
    };
    write(
      'offer/default.email.hbs',
      '---\nsubject: "{{persona.greeting}} {{lead.first_name}} & co"\n---\n<p>Hi {{lead.first_name}}</p><a href="{{unsubscribe_url}}">Unsubscribe</a>',
    );
    write('offer/vip.de.email.hbs', '---\nsubject: Hallo\ntext: "Hallo {{lead.first_name}}"\n---\n<p>Hallo {{{lead.first_name}}}</p>');
    write('offer/default.de.email.hbs', '---\nsubject: Hallo\n---\n<p>Hallo</p>');
    write('multiline/default.email.hbs', '---\nsubject: "{{lead.first_name}}"\n---\n<p>x</p>');
    write('nosubject/default.email.hbs', '<p>no front matter</p>');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('orders candidates by locale first, then persona, then default', () => {
    expect(templateCandidates('offer', 'vip', 'de-AT', 'email')).to.deep.equal([
      'offer/vip.de-AT.email.hbs',
      'offer/default.de-AT.email.hbs',
      'offer/vip.de.email.hbs',
      'offer/default.de.email.hbs',
      'offer/vip.email.hbs',
      'offer/default.email.hbs',
    ]);
    expect(findTemplate(dir, 'offer', 'vip', 'de-AT', 'email')).to.equal('offer/vip.de.email.hbs');
    expect(findTemplate(dir, 'offer', 'regular', 'de-CH', 'email')).to.equal('offer/default.de.email.hbs');
    expect(findTemplate(dir, 'offer', 'vip', 'fr', 'email')).to.equal('offer/default.email.hbs');
    expect(findTemplate(dir, 'offer', 'vip', null, 'sms')).to.equal(null);
  });

  it('escapes HTML in the body, keeps the subject plain, and derives a text part', () => {
    const email = new TemplateRenderer(dir).renderEmail('offer/default.email.hbs', context({ first_name: '<script>alert(1)</script>' }));
    expect(email.subject).to.equal('Dear <script>alert(1)</script> & co');
    expect(email.html).to.contain('Hi &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(email.html).not.to.contain('<script>');
    expect(email.html).to.contain('href="https://t.example/unsubscribe/tok?x&#x3D;1&amp;y&#x3D;2"');
    expect(email.text).to.contain('Hi <script>alert(1)</script>');
    expect(email.text).to.contain('[https://t.example/unsubscribe/tok?x=1&y=2]');
  });

  it('uses an explicit text part and lets a template opt out of escaping with triple braces', () => {
    const email = new TemplateRenderer(dir).renderEmail('offer/vip.de.email.hbs', context({ first_name: '<b>Vera</b>' }));
    expect(email.html).to.equal('<p>Hallo <b>Vera</b></p>');
    expect(email.text).to.equal('Hallo <b>Vera</b>');
  });

  it('fails a message whose template uses a variable the lead lacks, naming file and variable', () => {
    const renderer = new TemplateRenderer(dir);
    expect(() => renderer.renderEmail('offer/default.email.hbs', context({}))).to.throw(
      AppError,
      /offer\/default\.email\.hbs \(subject\): "first_name" not defined/,
    );
  });

  it('refuses subjects that would break headers and templates without a subject', () => {
    const renderer = new TemplateRenderer(dir);
    expect(() => renderer.renderEmail('multiline/default.email.hbs', context({ first_name: 'a\r\nBcc: x@evil.example' }))).to.throw(
      AppError,
      /one line/,
    );
    expect(() => renderer.renderEmail('nosubject/default.email.hbs', context({}))).to.throw(AppError, /needs a 'subject:'/);
  });
});
