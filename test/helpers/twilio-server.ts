import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import twilio from 'twilio';

export interface SentSms {
  sid: string;
  accountSid: string;
  to: string;
  from?: string;
  messagingServiceSid?: string;
  body: string;
  statusCallback?: string;
}

export interface TwilioServer {
  url: string;
  accountSid: string;
  authToken: string;
  messages: SentSms[];
  /** Answers the next requests with these errors, in order (then accepts again). */
  failNext(...errors: { status: number; code: number; message: string }[]): void;
  close(): Promise<void>;
}

/**
 * A local server that follows Twilio's Messages REST contract: form-encoded POST to
 * /2010-04-01/Accounts/{sid}/Messages.json with basic auth, JSON answers, error bodies with `code`.
 */
export async function startTwilioServer(): Promise<TwilioServer> {
  const accountSid = `AC${crypto.randomBytes(16).toString('hex')}`;
  const authToken = crypto.randomBytes(16).toString('hex');
  const messages: SentSms[] = [];
  const failures: { status: number; code: number; message: string }[] = [];
  const app = express();
  const authenticated = (req: express.Request, res: express.Response): boolean => {
    const expected = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
    if (req.params.sid === accountSid && req.get('authorization') === expected) return true;
    res.status(401).json({ code: 20003, message: 'Authenticate', status: 401, more_info: 'https://www.twilio.com/docs/errors/20003' });
    return false;
  };
  // Fetching the account: what a channel's probe reads.
  app.get('/2010-04-01/Accounts/:sid.json', (req, res) => {
    if (!authenticated(req, res)) return;
    res.json({ sid: accountSid, status: 'active', type: 'Full', friendly_name: 'Touchpoint tests' });
  });
  app.post('/2010-04-01/Accounts/:sid/Messages.json', express.urlencoded({ extended: false }), (req, res) => {
    if (!authenticated(req, res)) return;
    const failure = failures.shift();
    if (failure) {
      res.status(failure.status).json({ ...failure, more_info: `https://www.twilio.com/docs/errors/${failure.code}` });
      return;
    }
    const { To, From, MessagingServiceSid, Body, StatusCallback } = req.body as Record<string, string | undefined>;
    if (!To || !Body || (!From && !MessagingServiceSid)) {
      res.status(400).json({ code: 21604, message: "A 'To' phone number, a 'Body' and a sender are required.", status: 400 });
      return;
    }
    const sid = `SM${crypto.randomBytes(16).toString('hex')}`;
    messages.push({
      sid,
      accountSid,
      to: To,
      from: From,
      messagingServiceSid: MessagingServiceSid,
      body: Body,
      statusCallback: StatusCallback,
    });
    res.status(201).json({
      sid,
      account_sid: accountSid,
      to: To,
      from: From ?? null,
      messaging_service_sid: MessagingServiceSid ?? null,
      body: Body,
      status: 'queued',
      num_segments: '1',
      date_created: new Date().toUTCString(),
      uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`,
    });
  });
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    accountSid,
    authToken,
    messages,
    failNext: (...errors) => failures.push(...errors),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Posts a webhook to our app as Twilio does: the form, signed (X-Twilio-Signature) over the URL and its fields with the auth token. */
export function postTwilioWebhook(url: string, authToken: string, params: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilio.getExpectedTwilioSignature(authToken, url, params),
    },
    body: new URLSearchParams(params).toString(),
  });
}
