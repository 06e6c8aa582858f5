import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SendError, type Channel, type OutgoingMessage } from '../../src/channels/channel.ts';
import { outboxChannel } from '../../src/channels/outbox.ts';
import { smtpChannel } from '../../src/channels/smtp.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

/**
 * Every channel adapter passes this suite: what it accepts arrives intact, with our headers and a
 * Message-ID derived from our message id, and `close` releases it.
 */
interface Harness {
  channel: Channel;
  /** The messages the adapter's peer has received so far. */
  received(): Promise<ParsedMail[]>;
  teardown(): Promise<void>;
}

function message(id: number, to = `lead${id}@example.com`): OutgoingMessage {
  return {
    id,
    to,
    subject: `Hello ${id} – ünïcödé`,
    html: `<p>Hi <b>${id}</b></p>`,
    text: `Hi ${id}`,
    headers: { 'List-Unsubscribe': `<https://t.example/unsubscribe/${id}>`, 'X-Touchpoint-Campaign': 'contract' },
  };
}

function channelContract(name: string, setup: () => Promise<Harness>) {
  describe(`${name} channel contract`, () => {
    let h: Harness;
    beforeEach(async () => {
      h = await setup();
    });
    afterEach(async () => {
      await h.channel.close();
      await h.teardown();
    });

    it('delivers what it accepts, with subject, both parts and our headers', async () => {
      const { providerId } = await h.channel.send(message(1));
      expect(providerId).to.be.a('string').and.not.empty;
      const [mail] = await h.received();
      expect(mail!.subject).to.equal('Hello 1 – ünïcödé');
      expect(mail!.html).to.contain('<b>1</b>');
      expect(mail!.text?.trim()).to.equal('Hi 1');
      const rawHeader = (key: string) => mail!.headerLines.find((h) => h.key === key)?.line;
      expect(rawHeader('list-unsubscribe')).to.contain('<https://t.example/unsubscribe/1>');
      expect(mail!.headers.get('x-touchpoint-campaign')).to.equal('contract');
    });

    it('gives a re-sent message the same Message-ID so receivers can fold duplicates', async () => {
      await h.channel.send(message(7));
      await h.channel.send(message(7));
      const ids = (await h.received()).map((m) => m.messageId);
      expect(ids).to.have.length.greaterThan(0);
      expect(new Set(ids)).to.have.property('size', 1);
      expect(ids[0]).to.match(/^<message-7@/);
    });

    it('handles concurrent sends up to its declared concurrency', async () => {
      const n = h.channel.concurrency * 3;
      await Promise.all(Array.from({ length: n }, (_, i) => h.channel.send(message(100 + i))));
      expect(await h.received()).to.have.length(n);
    });
  });
}

channelContract('smtp', async () => {
  const sink: SmtpSink = await startSmtpSink();
  return {
    channel: smtpChannel({ url: sink.url, from: 'Touchpoint <tp@example.com>', domain: 'tp.example', connections: 3 }),
    received: async () => sink.messages,
    teardown: () => sink.close(),
  };
});

channelContract('outbox', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outbox-'));
  return {
    channel: outboxChannel({ dir, from: 'Touchpoint <tp@example.com>', domain: 'tp.example' }),
    received: () =>
      Promise.all(
        fs
          .readdirSync(dir)
          .filter((f) => f.endsWith('.eml'))
          .sort()
          .map((f) => simpleParser(fs.readFileSync(path.join(dir, f)))),
      ),
    teardown: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
});

describe('smtp channel failures', () => {
  it('marks 5xx refusals permanent and 4xx refusals transient', async () => {
    const sink = await startSmtpSink({
      refuse: (rcpt) =>
        rcpt.startsWith('gone') ? { code: 550, message: 'mailbox unavailable' } : rcpt.startsWith('busy') ? { code: 451, message: 'try later' } : undefined,
    });
    const channel = smtpChannel({ url: sink.url, from: 'tp@example.com', domain: 'tp.example', connections: 1 });
    try {
      const permanent = await channel.send(message(1, 'gone@example.com')).catch((e: unknown) => e);
      expect(permanent).to.be.instanceOf(SendError).with.property('permanent', true);
      const transient = await channel.send(message(2, 'busy@example.com')).catch((e: unknown) => e);
      expect(transient).to.be.instanceOf(SendError).with.property('permanent', false);
    } finally {
      await channel.close();
      await sink.close();
    }
  });

  it('treats an unreachable server as transient', async () => {
    const channel = smtpChannel({ url: 'smtp://127.0.0.1:1?ignore_tls=true', from: 'tp@example.com', domain: 'tp.example', connections: 1 });
    const err = await channel.send(message(3)).catch((e: unknown) => e);
    await channel.close();
    expect(err).to.be.instanceOf(SendError).with.property('permanent', false);
  });
});

describe('outbox for SMS', () => {
  it('keeps each SMS as a text file with its recipient and text part', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outbox-sms-'));
    try {
      const channel = outboxChannel({ dir, from: 'tp@example.com', domain: 'tp.example', kind: 'sms' });
      const { providerId } = await channel.send({ ...message(5, '+4915112345678'), text: 'Hi 5. STOP to opt out' });
      expect(providerId).to.equal('outbox:message-5.sms.txt');
      expect(fs.readFileSync(path.join(dir, 'message-5.sms.txt'), 'utf8')).to.equal('To: +4915112345678\n\nHi 5. STOP to opt out\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
