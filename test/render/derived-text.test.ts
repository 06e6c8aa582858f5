import { expect } from 'chai';
import fc from 'fast-check';
import { deriveText, derivedText } from '../../src/render/render.ts';

const link = fc
  .tuple(
    fc.constantFrom('https://touchpoint.test', 'http://127.0.0.1:3000', 'https://x.example'),
    fc.base64String({ minLength: 1, maxLength: 180 }),
  )
  .map(([base, token]) => `${base}/unsubscribe/${token.replace(/[+/=]/g, 'x')}`);
const word = fc.oneof(
  fc.constantFrom(
    'Dear',
    'Anna',
    'x',
    'xx',
    'Unsubscribe',
    'spring',
    '20%',
    '&amp;',
    'ü',
    'a-very-long-word-that-goes-on-and-on-and-on-without-any-break-at-all',
  ),
  fc.string({ maxLength: 12 }).map((s) => s.replace(/[<>&"]/g, '')),
);
const words = fc.array(word, { maxLength: 30 }).map((ws) => ws.join(' '));
/** HTML as templates make it: paragraphs, links, headings, lists, tables, the link anywhere. */
const block = (l: string) =>
  fc.oneof(
    words.map((w) => `<p>${w}</p>`),
    words.map((w) => `<p>${w} <a href="${l}">Unsubscribe</a>.</p>`),
    words.map((w) => `<p>${w} ${l}</p>`),
    fc.constant(`<a href="${l}">${l}</a>`),
    words.map((w) => `<h2>${w} ${l}</h2>`),
    words.map((w) => `<ul><li>${w}</li><li><a href="${l}">${w}</a></li></ul>`),
    words.map((w) => `<table><tr><th>${w}</th><td>${l}</td></tr></table>`),
    words.map((w) => `<p>x${l}x ${w}</p>`),
  );
const email = link.chain((l) =>
  fc.tuple(
    fc.constant(l),
    fc.array(block(l), { minLength: 1, maxLength: 6 }).map((bs) => bs.join('\n')),
  ),
);

describe('the text part derived from an email’s HTML', () => {
  it('is the same, remembered with the unsubscribe link masked, as converted directly', () => {
    fc.assert(
      fc.property(email, ([l, html]) => {
        expect(derivedText(html, l)).to.equal(deriveText(html));
        // Again: now from what was remembered.
        expect(derivedText(html, l)).to.equal(deriveText(html));
      }),
      { numRuns: 300 },
    );
  });

  it('puts each message’s own link back into the text remembered for its variant', () => {
    const html = (l: string) => `<p>Hello Anna, our spring offer.</p><p><a href="${l}">Unsubscribe</a> or visit ${l}</p>`;
    const a = 'https://touchpoint.test/unsubscribe/aaaa.bbbb';
    const b = 'https://touchpoint.test/unsubscribe/cccc.dddd';
    expect(derivedText(html(a), a)).to.equal(deriveText(html(a)));
    expect(derivedText(html(b), b)).to.equal(deriveText(html(b)));
    expect(derivedText(html(b), b))
      .to.contain(b)
      .and.not.contain(a);
  });
});
