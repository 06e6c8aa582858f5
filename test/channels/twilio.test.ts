import { expect } from 'chai';
import { SendError } from '../../src/channels/channel.ts';
import { twilioChannel } from '../../src/channels/twilio.ts';
import { startTwilioServer, type TwilioServer } from '../helpers/twilio-server.ts';

const sms = (id: number, to = '+4915112345678') => ({
  id,
  to,
  subject: '',
  html: '',
  text: `Hello ${id}. Reply STOP to opt out.`,
  headers: {},
});

describe('twilio SMS channel (real SDK, local Twilio-compatible server)', () => {
  let server: TwilioServer;
  beforeEach(async () => {
    server = await startTwilioServer();
  });
  afterEach(() => server.close());

  function channel(extra: { from?: string; messagingServiceSid?: string } = { messagingServiceSid: 'MG123' }) {
    return twilioChannel({
      accountSid: server.accountSid,
      authToken: server.authToken,
      apiUrl: server.url,
      concurrency: 4,
      statusCallback: 'https://tp.example/webhooks/twilio/status',
      ...extra,
    });
  }

  it('sends the text part through the Messages API and returns the message sid', async () => {
    const { providerId } = (await channel().send(sms(1)))!;
    expect(providerId).to.match(/^SM[0-9a-f]{32}$/);
    expect(server.messages).to.deep.equal([
      {
        sid: providerId,
        accountSid: server.accountSid,
        to: '+4915112345678',
        from: undefined,
        messagingServiceSid: 'MG123',
        body: 'Hello 1. Reply STOP to opt out.',
        statusCallback: 'https://tp.example/webhooks/twilio/status',
      },
    ]);
    await channel({ from: '+15005550006' }).send(sms(2));
    expect(server.messages[1]).to.include({ from: '+15005550006', messagingServiceSid: undefined });
  });

  it('treats 429 and 5xx as transient, other 4xx (21211, 21610) as permanent, with the code in the reason', async () => {
    const cases = [
      { status: 429, code: 20429, message: 'Too Many Requests', permanent: false },
      { status: 500, code: 20500, message: 'Internal Server Error', permanent: false },
      { status: 400, code: 21211, message: "The 'To' number is not a valid phone number.", permanent: true },
      { status: 400, code: 21610, message: 'Attempt to send to unsubscribed recipient', permanent: true },
    ];
    for (const { permanent, ...error } of cases) {
      server.failNext(error);
      const err = await channel()
        .send(sms(3))
        .catch((e: unknown) => e);
      expect(err, String(error.code)).to.be.instanceOf(SendError).with.property('permanent', permanent);
      expect((err as Error).message).to.contain(`Twilio error ${error.code}`);
    }
    expect(server.messages).to.have.length(0);
  });

  it('refuses wrong credentials as a permanent failure', async () => {
    const wrong = twilioChannel({
      accountSid: server.accountSid,
      authToken: 'nope',
      apiUrl: server.url,
      concurrency: 1,
      messagingServiceSid: 'MG1',
    });
    const err = await wrong.send(sms(4)).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(SendError).with.property('permanent', true);
  });
});
