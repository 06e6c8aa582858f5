import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { SendError, type ChannelAdapter, type OutgoingMessage } from '../../src/channels/channel.ts';
import { outboxChannel } from '../../src/channels/outbox.ts';
import { smtpChannel } from '../../src/channels/smtp.ts';
import { twilioChannel } from '../../src/channels/twilio.ts';
import { messageIdFromAddress, ourMessageId } from '../../src/inbound/addresses.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';
import { startTwilioServer, type TwilioServer } from '../helpers/twilio-server.ts';

/**
 * Every channel adapter passes this suite: what it accepts arrives intact at its peer, each accepted
 * message gets its own provider id, concurrent sends up to the declared concurrency all arrive, and
 * `close` releases it. Email adapters also carry our headers and a Message-ID derived from our id.
 */
interface Delivered {
  to: string;
  text: string;
  /** Email only: the parsed message. */
  mail?: ParsedMail;
}

interface Harness {
  channel: ChannelAdapter;
  kind: 'email' | 'sms';
  /** The messages the adapter's peer has received so far, in arrival order. */
  received(): Promise<Delivered[]>;
  teardown(): Promise<void>;
}

const MESSAGE_IDS = { domain: 'tp.example', secret: 'contract-signing-secret' };

function message(kind: Harness['kind'], id: number): OutgoingMessage {
  return {
    id,
    to: kind === 'email' ? `lead${id}@example.com` : `+49151123456${String(id % 100).padStart(2, '0')}`,
    subject: `Hello ${id} – ünïcödé`,
    html: `<p>Hi <b>${id}</b></p>`,
    text: `Hi ${id} – ünïcödé. Reply STOP to opt out`,
    headers: { 'List-Unsubscribe': `<https://t.example/unsubscribe/${id}>`, 'X-Touchpoint-Campaign': 'contract' },
  };
}

function channelContract(name: string, kind: Harness['kind'], setup: () => Promise<Harness>) {
  describe(`${name} channel contract`, () => {
    let h: Harness;
    beforeEach(async () => {
      h = await setup();
    });
    afterEach(async () => {
      await h.channel.close();
      await h.teardown();
    });

    it('delivers what it accepts intact to its recipient', async () => {
      const sent = message(h.kind, 1);
      const { providerId } = (await h.channel.send(sent))!;
      expect(providerId).to.be.a('string').and.not.empty;
      const [delivered] = await h.received();
      expect(delivered!.to).to.equal(sent.to);
      expect(delivered!.text.trim()).to.equal(sent.text);
    });

    it('gives each accepted message its own provider id', async () => {
      const ids = [];
      for (const id of [2, 3, 4]) ids.push((await h.channel.send(message(h.kind, id)))!.providerId);
      expect(new Set(ids)).to.have.property('size', 3);
      expect(await h.received()).to.have.length(3);
    });

    it('handles concurrent sends up to its declared concurrency', async () => {
      const n = h.channel.concurrency * 3;
      await Promise.all(Array.from({ length: n }, (_, i) => h.channel.send(message(h.kind, 100 + i))));
      const received = await h.received();
      expect(received).to.have.length(n);
      expect(new Set(received.map((r) => r.to))).to.have.property('size', n);
    });

    it('starts a send only once it can hand the message over, and sends nothing when the start says no', async () => {
      let starts = 0;
      const declined = await h.channel.send(message(h.kind, 8), async () => void starts++);
      expect(declined).to.equal(undefined);
      const confirmed: number[] = [];
      const sent = await h.channel.send(message(h.kind, 9), async () => (starts++, async () => void confirmed.push(9)));
      expect(sent!.providerId).to.be.a('string').and.not.empty;
      expect(starts).to.equal(2);
      expect(confirmed).to.deep.equal([9]);
      expect((await h.received()).map((r) => r.to)).to.deep.equal([message(h.kind, 9).to]);
    });

    it('abandons a message whose start cannot be confirmed', async () => {
      const lost = new Error('the database went away');
      const err = await h.channel.send(message(h.kind, 10), async () => async () => Promise.reject(lost)).catch((e: unknown) => e);
      expect(err).to.be.an('error');
      expect(await h.received()).to.have.length(0);
      // The adapter is usable again at once.
      await h.channel.send(message(h.kind, 11));
      expect((await h.received()).map((r) => r.to)).to.deep.equal([message(h.kind, 11).to]);
    });

    it('answers a probe while its peer is up', async () => {
      await h.channel.probe();
    });

    if (kind === 'sms') return;

    it('carries subject, both parts and our headers', async () => {
      await h.channel.send(message(h.kind, 1));
      const mail = (await h.received())[0]!.mail!;
      expect(mail.subject).to.equal('Hello 1 – ünïcödé');
      expect(mail.html).to.contain('<b>1</b>');
      const rawHeader = (key: string) => mail.headerLines.find((line) => line.key === key)?.line;
      expect(rawHeader('list-unsubscribe')).to.contain('<https://t.example/unsubscribe/1>');
      expect(mail.headers.get('x-touchpoint-campaign')).to.equal('contract');
    });

    it('gives a re-sent message the same Message-ID so receivers can fold duplicates', async () => {
      await h.channel.send(message(h.kind, 7));
      await h.channel.send(message(h.kind, 7));
      const ids = (await h.received()).map((m) => m.mail!.messageId);
      expect(new Set(ids)).to.have.property('size', 1);
      // Signed, so it names message 7 and nobody can write one for message 8.
      expect(ids[0]).to.equal(ourMessageId(MESSAGE_IDS.secret, MESSAGE_IDS.domain, 7));
      expect(messageIdFromAddress(MESSAGE_IDS.secret, 'message', ids[0]!.slice(1, -1))).to.equal(7);
    });
  });
}

const fromMail = (mail: ParsedMail): Delivered => ({ to: (mail.to as AddressObject).value[0]!.address!, text: mail.text ?? '', mail });

/** The files an outbox folder holds with this suffix, oldest first. */
function outboxFiles(dir: string, suffix: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .map((f) => path.join(dir, f))
    .sort((a, b) => fs.statSync(a).mtimeMs - fs.statSync(b).mtimeMs);
}

channelContract('smtp', 'email', async () => {
  const sink: SmtpSink = await startSmtpSink();
  return {
    channel: smtpChannel({ url: sink.url, from: 'Touchpoint <tp@example.com>', messageIds: MESSAGE_IDS, connections: 3 }),
    kind: 'email',
    received: async () => sink.messages.map(fromMail),
    teardown: () => sink.close(),
  };
});

channelContract('outbox (email)', 'email', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outbox-'));
  return {
    channel: outboxChannel({ dir, from: 'Touchpoint <tp@example.com>', messageIds: MESSAGE_IDS }),
    kind: 'email',
    received: async () => (await Promise.all(outboxFiles(dir, '.eml').map((f) => simpleParser(fs.readFileSync(f))))).map(fromMail),
    teardown: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
});

channelContract('twilio', 'sms', async () => {
  const server: TwilioServer = await startTwilioServer();
  return {
    channel: twilioChannel({
      accountSid: server.accountSid,
      authToken: server.authToken,
      apiUrl: server.url,
      from: '+15005550006',
      concurrency: 4,
    }),
    kind: 'sms',
    received: async () => server.messages.map((m) => ({ to: m.to, text: m.body })),
    teardown: () => server.close(),
  };
});

channelContract('outbox (sms)', 'sms', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outbox-sms-'));
  return {
    channel: outboxChannel({ dir, from: 'tp@example.com', messageIds: MESSAGE_IDS, kind: 'sms' }),
    kind: 'sms',
    received: async () =>
      outboxFiles(dir, '.sms.txt').map((f) => {
        const [head, ...body] = fs.readFileSync(f, 'utf8').split('\n\n');
        return { to: head!.replace(/^To: /, ''), text: body.join('\n\n') };
      }),
    teardown: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
});

describe('smtp channel failures', () => {
  it('marks 5xx refusals permanent and 4xx refusals transient', async () => {
    const sink = await startSmtpSink({
      refuse: (rcpt) =>
        rcpt.startsWith('gone')
          ? { code: 550, message: 'mailbox unavailable' }
          : rcpt.startsWith('busy')
            ? { code: 451, message: 'try later' }
            : undefined,
    });
    const channel = smtpChannel({ url: sink.url, from: 'tp@example.com', messageIds: MESSAGE_IDS, connections: 1 });
    try {
      const permanent = await channel.send({ ...message('email', 1), to: 'gone@example.com' }).catch((e: unknown) => e);
      expect(permanent).to.be.instanceOf(SendError).with.property('permanent', true);
      const transient = await channel.send({ ...message('email', 2), to: 'busy@example.com' }).catch((e: unknown) => e);
      expect(transient).to.be.instanceOf(SendError).with.property('permanent', false);
    } finally {
      await channel.close();
      await sink.close();
    }
  });

  it('fails before the start when the server cannot be reached, and its probe fails too', async () => {
    const channel = smtpChannel({
      url: 'smtp://127.0.0.1:1?ignore_tls=true',
      from: 'tp@example.com',
      messageIds: MESSAGE_IDS,
      connections: 1,
    });
    let started = false;
    const err = await channel.send(message('email', 3), async () => void (started = true)).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(SendError).with.property('channelFailure', 'unreachable');
    expect(err).to.have.property('permanent', false);
    expect(started).to.equal(false);
    expect(
      await channel.probe().then(
        () => 'answered',
        (e: unknown) => e,
      ),
    ).to.be.instanceOf(SendError);
    await channel.close();
  });

  it('tells a server that turns the session away (421, 554 greeting) from one that refuses a recipient', async () => {
    for (const greeting of ['421 too busy, try later', '554 no service here']) {
      const server = await scriptedSmtp(greeting);
      const channel = smtpChannel({ url: server.url, from: 'tp@example.com', messageIds: MESSAGE_IDS, connections: 1 });
      const err = await channel.send(message('email', 4), async () => async () => {}).catch((e: unknown) => e);
      expect(err, greeting).to.be.instanceOf(SendError).with.property('channelFailure', 'unreachable');
      expect(err, greeting).to.have.property('permanent', false);
      await channel.close();
      await server.close();
    }
  });

  it('calls a connection that breaks mid-transaction interrupted: the server may hold a copy', async () => {
    const server = await scriptedSmtp('220 scripted ESMTP', { dropAfterData: true });
    const channel = smtpChannel({ url: server.url, from: 'tp@example.com', messageIds: MESSAGE_IDS, connections: 1 });
    const err = await channel.send(message('email', 5), async () => async () => {}).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(SendError).with.property('channelFailure', 'interrupted');
    await channel.close();
    await server.close();
  });
});

/**
 * A bare SMTP server speaking just enough of the protocol: its greeting, then 250 to everything and
 * 354 to DATA; with `dropAfterData` it cuts the connection once the message's body arrives.
 */
async function scriptedSmtp(greeting: string, options: { dropAfterData?: boolean } = {}): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.write(`${greeting}\r\n`);
    if (!greeting.startsWith('220')) return void socket.end();
    let inData = false;
    socket.setEncoding('latin1').on('data', (chunk: string) => {
      for (const line of chunk.split('\r\n').filter(Boolean)) {
        if (inData) {
          if (options.dropAfterData) return void socket.destroy();
          if (line === '.') inData = false;
          continue;
        }
        if (/^DATA/i.test(line)) {
          inData = true;
          socket.write('354 go on\r\n');
        } else socket.write(/^EHLO/i.test(line) ? '250 scripted\r\n' : '250 ok\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `smtp://127.0.0.1:${(server.address() as net.AddressInfo).port}?ignore_tls=true`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('outbox for SMS', () => {
  it('keeps each SMS as a text file with its recipient and text part', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outbox-sms-'));
    try {
      const channel = outboxChannel({ dir, from: 'tp@example.com', messageIds: MESSAGE_IDS, kind: 'sms' });
      const { providerId } = (await channel.send({ ...message('sms', 5), to: '+4915112345678', text: 'Hi 5. STOP to opt out' }))!;
      expect(providerId).to.equal('outbox:message-5.sms.txt');
      expect(fs.readFileSync(path.join(dir, 'message-5.sms.txt'), 'utf8')).to.equal('To: +4915112345678\n\nHi 5. STOP to opt out\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
