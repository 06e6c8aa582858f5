import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import { SendError, type ChannelAdapter, type ChannelFailure, type OutgoingMessage, type StartSend } from './channel.ts';

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
  /** The HTTP status of Twilio's answer; none when no answer came. */
  status?: number;
  /** Twilio's error code in an answer, or the system's (ECONNREFUSED …) when there was none. */
  code?: number | string;
  message: string;
}

/** 429 and 5xx pass with time; other 4xx answers (21211 invalid number, 21610 unsubscribed …) do not. */
export function isPermanentTwilioError(err: TwilioFailure): boolean {
  return typeof err.status === 'number' && err.status >= 400 && err.status < 500 && err.status !== 429;
}

/** System errors of a request that never reached Twilio. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/** No answer at all is the channel's failure: unreachable before the request left, interrupted after. */
export function twilioChannelFailure(err: TwilioFailure): ChannelFailure | undefined {
  if (err.status !== undefined) return undefined;
  return NOT_CONNECTED.has(String(err.code)) ? 'unreachable' : 'interrupted';
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
    async send(message: OutgoingMessage, start?: StartSend) {
      const confirm = await start?.();
      if (start && !confirm) return undefined;
      // One request carries the whole message: the start is confirmed before it leaves.
      await confirm?.();
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
        const failure = twilioChannelFailure(err);
        if (failure) throw new SendError(err.message, false, { cause, channelFailure: failure });
        const detail = err.code ? `Twilio error ${err.code}: ${err.message}` : err.message;
        throw new SendError(detail, isPermanentTwilioError(err), { cause, code: err.code ? String(err.code) : undefined });
      }
    },
    async probe() {
      // Reading our own account answers whenever Twilio does, and sends nothing.
      await client.api.v2010.accounts(options.accountSid).fetch();
    },
    async close() {},
  };
}
