import path from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { newPart } from '../../src/inbound/email.ts';
import { startInboundSmtp, type InboundSmtp } from '../../src/inbound/smtp-listener.ts';
import { until } from '../helpers/engine.ts';
import { expectResponsive, underAttack } from '../helpers/pressure.ts';
import { rawSmtp, type RawSmtp } from '../helpers/smtp.ts';
import { testApp, type TestApp } from '../helpers/web.ts';

/**
 * Issue 11, item 7: no single mail takes the engine down. Each attack is made over a real SMTP
 * session against the listener (and the MIME webhook), with the default limits, while the event
 * loop, /healthz and the resident memory of the process are watched.
 */

const FIXTURE = path.resolve('test/fixtures/inbound');
const DOMAIN = 'touchpoint.test';
const SECRET = 'inbound-webhook-secret-0123456789';
const MB = 1024 * 1024;

let serial = 0;
const headers = (extra = '') =>
  `From: mallory@example.com\r\nTo: reply+x@${DOMAIN}\r\nSubject: hello\r\nMessage-ID: <attack-${++serial}@example.com>\r\n${extra}`;

describe('security: inbound SMTP limits (issue 11, item 7)', function () {
  this.timeout(60_000);
  let t: TestApp;
  let smtp: InboundSmtp;

  before(async () => {
    t = await testApp({
      CAMPAIGNS_DIR: path.join(FIXTURE, 'campaigns'),
      TEMPLATES_DIR: path.join(FIXTURE, 'templates'),
      INBOUND_DOMAIN: DOMAIN,
      INBOUND_WEBHOOK_SECRET: SECRET,
    });
    smtp = await startInboundSmtp({ ...t.config.inbound, host: '127.0.0.1', port: 0, receive: t.engine.receiveReply });
  });
  after(async () => {
    await smtp.close();
    await t.close();
  });

  /** One transaction up to the end of DATA; resolves with the answer to the final dot. */
  async function send(content: string | ((s: RawSmtp) => Promise<void>)): Promise<string> {
    const s = rawSmtp(smtp.port);
    try {
      expect(await s.greeting).to.match(/^220 /);
      await s.command('EHLO attacker.example');
      await s.command('MAIL FROM:<mallory@example.com>');
      expect(await s.command(`RCPT TO:<reply+x@${DOMAIN}>`)).to.match(/^250 /);
      expect(await s.command('DATA')).to.match(/^354 /);
      const answer = s.reply();
      if (typeof content === 'string') await s.write(content);
      else await content(s);
      await s.write('\r\n.\r\n');
      return await answer;
    } finally {
      s.close();
    }
  }

  const webhook = (raw: string) =>
    fetch(`${t.base}/webhooks/email/inbound`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'message/rfc822' },
      body: raw,
    });

  /** The text the mail just accepted stored: its contact's latest message (mallory's mails join one conversation). */
  async function storedText(answer: string): Promise<string> {
    const id = Number(/contact (\d+)/.exec(answer)?.[1]);
    const { rows } = await t.database.pool.query<{ body_text: string }>(
      `SELECT body_text FROM (SELECT body_text, 1 AS later, id FROM inbound_contact_messages WHERE contact_id = $1
                              UNION ALL SELECT body_text, 0, id FROM inbound_contacts WHERE id = $1) m ORDER BY later DESC, id DESC LIMIT 1`,
      [id],
    );
    return rows[0]!.body_text;
  }

  it('stops keeping a 400 MB message at the 10 MB limit: 552, memory stays flat, /healthz answers', async () => {
    expect(t.config.inbound.maxBytes).to.equal(10 * MB);
    const megabyte = Buffer.from(('x'.repeat(998) + '\r\n').repeat(1024));
    const attack = await underAttack(t.base, () =>
      send(async (s) => {
        await s.write(headers() + '\r\n');
        for (let i = 0; i < 400; i++) await s.write(megabyte);
      }),
    );
    expect(attack.result).to.match(/^552 /);
    // Before: the whole message was buffered, and the process grew by ~800 MB.
    expect(attack.rssGrowthMb, 'RSS growth (MB)').to.be.below(100);
    expectResponsive(attack);
  });

  it(`caps recipients per message: past INBOUND_SMTP_MAX_RECIPIENTS (default 100) each RCPT is answered 452`, async () => {
    const s = rawSmtp(smtp.port);
    await s.greeting;
    await s.command('EHLO attacker.example');
    await s.command('MAIL FROM:<mallory@example.com>');
    const answers: string[] = [];
    for (let i = 0; i < 1000; i++) answers.push(await s.command(`RCPT TO:<reply+r${i}@${DOMAIN}>`));
    s.close();
    expect(answers.filter((a) => a.startsWith('250 '))).to.have.length(100);
    expect(answers.slice(100).every((a) => a.startsWith('452 '))).to.equal(true);
  });

  it('caps connections per client address: past INBOUND_SMTP_MAX_CONNECTIONS_PER_CLIENT (default 10) the greeting is 421', async () => {
    const sessions = Array.from({ length: 11 }, () => rawSmtp(smtp.port));
    const greetings = await Promise.all(sessions.map((s) => s.greeting));
    expect(greetings.filter((g) => g.startsWith('220 '))).to.have.length(10);
    expect(greetings.filter((g) => g.startsWith('421 '))).to.have.length(1);
    sessions.forEach((s) => s.close());
    // Closed connections count no more.
    await until(async () => {
      const s = rawSmtp(smtp.port);
      const greeting = await s.greeting;
      s.close();
      return greeting.startsWith('220 ') ? true : undefined;
    }, 5_000);
  });

  it('strips quoted history in linear time: four parallel 100 kB lines of "Am … schrieb:" keep the event loop free', async () => {
    const line = 'Am Montag schrieb: '.repeat(Math.ceil(100_000 / 19)).slice(0, 100_000);
    const mail = () => headers('Content-Type: text/plain; charset=utf-8\r\n') + '\r\nThanks, that helps.\r\n' + line + '\r\n';
    const attack = await underAttack(t.base, () => Promise.all([1, 2, 3, 4].map(() => send(mail()))));
    expect(attack.result.every((a) => a.startsWith('250 '))).to.equal(true);
    // Before: 1.3 s of CPU per message in the regex, /healthz stalled for seconds.
    expectResponsive(attack);
  });

  it('strips quoted history as before: the linear rules agree with the old expression on every line', () => {
    // The expression of the quadratic version, as the oracle of what a history line is.
    const old = /^\s*(On\b.*\bwrote:|Am\b.*\bschrieb\b.*:|Le\b.*\ba écrit\s*:|-{2,}\s*Original Message\s*-{2,}|_{10,})\s*$/i;
    const oldNewPart = (text: string) => {
      const kept: string[] = [];
      for (const line of text.split('\n')) {
        if (old.test(line)) break;
        if (!/^\s*>/.test(line)) kept.push(line);
      }
      return kept.join('\n').trim() || text.trim();
    };
    const word = fc.constantFrom(
      'On',
      'on',
      'AM',
      'Le',
      'wrote:',
      'wrote',
      'schrieb',
      'schrieb:',
      'a écrit',
      'a',
      'écrit',
      ':',
      '--',
      '-',
      '__________',
      'Original',
      'Message',
      '>',
      'Ann',
    );
    const line = fc
      .tuple(
        fc.constantFrom('', ' ', '\t'),
        fc.array(word, { maxLength: 6 }),
        fc.constantFrom(' ', ''),
        fc.constantFrom('', ' ', ':', ' :', '-'),
      )
      .map(([lead, words, separator, tail]) => lead + words.join(separator) + tail);
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 4 }), (lines) => {
        const text = ['Thanks!', ...lines, 'the quoted mail'].join('\n');
        expect(newPart(text)).to.equal(oldNewPart(text));
      }),
      { numRuns: 3000 },
    );
  });

  it('converts an 8 MB HTML-only mail off the event loop, capped, and keeps its text', async () => {
    const html =
      '<html><body><p>Please call me back.</p>' +
      '<p>hello <b>world</b> <a href="https://example.com">link</a></p>\n'.repeat((8 * MB) / 64) +
      '</body></html>';
    const attack = await underAttack(t.base, () => send(headers('Content-Type: text/html; charset=utf-8\r\n') + '\r\n' + html));
    expect(attack.result).to.match(/^250 /);
    // Before: html-to-text held the event loop for seconds.
    expectResponsive(attack);
    expect(await storedText(attack.result)).to.match(/^Please call me back\.\n+hello world/);
  });

  it('refuses mail that cannot be parsed for good: 554 over SMTP, 400 from the webhook (not 451 / 500)', async () => {
    let nested = headers();
    for (let i = 0; i < 3000; i++) nested += `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`;
    nested += 'Content-Type: text/plain\r\n\r\nhi\r\n';
    for (let i = 2999; i >= 0; i--) nested += `--b${i}--\r\n`;
    const unparsable = {
      'NUL bytes': headers('Content-Type: text/plain\r\n') + '\r\nhello\u0000world\r\n',
      '3,000 nested parts': nested,
      'a 5 MB header': headers(`X-Padding: ${'a'.repeat(5 * MB)}\r\n`) + '\r\nhi\r\n',
    };
    for (const [what, raw] of Object.entries(unparsable)) {
      expect(await send(raw), what).to.match(/^554 the message cannot be parsed/);
      const res = await webhook(raw);
      expect(res.status, what).to.equal(400);
      expect(((await res.json()) as { error: string }).error, what).to.equal('invalid_input');
    }
    const { rows } = await t.database.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM inbound_contacts WHERE from_address = 'mallory@example.com' AND body_text LIKE 'hi%'`,
    );
    expect(rows[0]!.n).to.equal(0);
  });
});
