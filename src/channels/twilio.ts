import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import { SendError, type ChannelAdapter, type OutgoingMessage } from './channel.ts';

export interface TwilioOptions {
  accountSid: string;
  authToken: string;
  /** Sender: a Messaging Service (preferred, picks numbers and handles opt-outs) or a number. */
  messagingServiceSid?: string;
  from?: string;
  /** Another base URL for the SDK's requests (tests, proxies); default Twilio's own. */
  apiUrl?: string;
  /** Where Twilio reports delivery status. */
  statusCallback?: string;
  concurrency: number;
}

const TWILIO_API = 'https://api.twilio.com';

/** The SDK's HTTP client, sending to `apiUrl` instead of Twilio's host. */
class RedirectingClient extends twilio.RequestClient {
  constructor(private readonly apiUrl: string) {
    super({ timeout: 15_000, keepAlive: true });
  }

  override request<T>(opts: RequestClient.RequestOptions<T>) {
    return super.request<T>({ ...opts, uri: opts.uri.replace(TWILIO_API, this.apiUrl.replace(/\/+$/, '')) });
  }
}

interface TwilioFailure {
  status?: number;
  code?: number;
  message: string;
}

/** 429 and 5xx pass with time; other 4xx answers (21211 invalid number, 21610 unsubscribed …) do not. */
export function isPermanentTwilioError(err: TwilioFailure): boolean {
  return typeof err.status === 'number' && err.status >= 400 && err.status < 500 && err.status !== 429;
}

/** SMS through the twilio SDK's Messages API. */
export function twilioChannel(options: TwilioOptions): ChannelAdapter {
  const client = twilio(options.accountSid, options.authToken, {
    httpClient: options.apiUrl ? new RedirectingClient(options.apiUrl) : undefined,
  });
  const sender = options.messagingServiceSid ? { messagingServiceSid: options.messagingServiceSid } : { from: options.from! };
  return {
    name: 'twilio',
    destination: options.apiUrl ?? TWILIO_API,
    concurrency: options.concurrency,
    async send(message: OutgoingMessage) {
      try {
        const sent = await client.messages.create({
          ...sender,
          to: message.to,
          body: message.text,
          ...(options.statusCallback ? { statusCallback: options.statusCallback } : {}),
        });
        return { providerId: sent.sid };
      } catch (cause) {
        const err = cause as TwilioFailure;
        const detail = err.code ? `Twilio error ${err.code}: ${err.message}` : err.message;
        throw new SendError(detail, isPermanentTwilioError(err), { cause, code: err.code ? String(err.code) : undefined });
      }
    },
    async close() {},
  };
}
