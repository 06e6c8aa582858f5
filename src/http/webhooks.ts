import express, { Router, type Request } from 'express';
import twilio from 'twilio';
import { sameSecret } from '../access/secrets.ts';
import type { Engine } from '../engine.ts';
import { AppError } from '../errors.ts';
import { parseInboundEmail } from '../inbound/email.ts';
import { smsKeyword } from '../inbound/sms-keywords.ts';
import { escapeHtml } from '../render/html.ts';
import { formBody } from './body.ts';

/** Refuses a request unless X-Twilio-Signature validates for our public URL and the posted form. */
function assertFromTwilio(engine: Engine, req: Request): void {
  const token = engine.config.twilio?.authToken;
  if (!token) throw new AppError('not_found', 'Twilio is not configured');
  const signature = req.get('x-twilio-signature') ?? '';
  const url = engine.config.publicUrl + req.originalUrl;
  if (!twilio.validateRequest(token, signature, url, req.body ?? {})) {
    throw new AppError('forbidden', 'X-Twilio-Signature does not match this request');
  }
}

function twiml(message?: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Response>${message ? `<Message>${escapeHtml(message)}</Message>` : ''}</Response>`;
}

/** Refuses a request unless it carries the shared secret of the inbound-mail webhook. */
function assertInboundSecret(engine: Engine, req: Request): void {
  const secret = engine.config.inbound.webhookSecret;
  if (!secret) throw new AppError('not_found', 'the inbound email webhook is off: set INBOUND_WEBHOOK_SECRET');
  const given = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
  if (!sameSecret(given, secret)) throw new AppError('forbidden', 'the inbound webhook secret does not match');
}

/** Provider webhooks: no API key, a provider signature or shared secret instead. */
export function webhooksRouter(engine: Engine): Router {
  const router = Router();

  /** A raw MIME message forwarded by a mail provider; `?to=` may name the envelope recipient. */
  router.post(
    '/email/inbound',
    (req, _res, next) => {
      assertInboundSecret(engine, req);
      next();
    },
    express.raw({ type: () => true, limit: engine.config.inbound.maxBytes }),
    async (req, res) => {
      const raw = req.body as Buffer;
      if (!Buffer.isBuffer(raw) || raw.length === 0)
        throw new AppError('invalid_input', 'the body must be a raw MIME message (message/rfc822)');
      const to = [req.query.to ?? []].flat().filter((v): v is string => typeof v === 'string');
      const reply = await parseInboundEmail(raw, { to });
      const { contactId, duplicate, joined, complaint, bounce } = await engine.receiveReply(reply);
      // An abuse report (RFC 5965) is a complaint, never a contact: what became of it, 201 when it was recorded.
      if (complaint) return void res.status(complaint === 'recorded' ? 201 : 200).json({ contact: null, duplicate, complaint });
      // `joined`: the mail went onto the person's contact on the same matter (a later message, or one reopening it).
      // `bounce`: it was a bounce, recorded against its message's address, and opened no contact.
      res
        .status(duplicate ? 200 : 201)
        .json({ contact: contactId, duplicate, joined: joined ?? false, kind: reply.kind, ...(bounce ? { bounce: true } : {}) });
    },
  );

  router.use(formBody('form'));

  router.post('/twilio/sms', async (req, res) => {
    assertFromTwilio(engine, req);
    const body = req.body as Record<string, string | undefined>;
    if (!body.MessageSid || !body.From) throw new AppError('invalid_input', 'MessageSid and From are required');
    const result = await engine.inbox.inboundSms({
      messageSid: body.MessageSid,
      from: body.From,
      to: body.To ?? '',
      body: body.Body ?? '',
      optOutType: body.OptOutType,
    });
    // Keywords are the ledger's business; any other text is a person writing to us. A retried
    // delivery goes through again: the contact is unique per MessageSid, so a failure here is
    // made good by Twilio's retry instead of being lost.
    if (!smsKeyword(body.Body ?? '', body.OptOutType)) {
      const text = (body.Body ?? '').slice(0, 10_000);
      await engine.receiveReply({
        channel: 'sms',
        externalId: body.MessageSid,
        kind: 'human',
        from: body.From,
        to: body.To,
        bodyText: text,
        text: text.trim(),
      });
    }
    res.type('text/xml').send(twiml(result.reply));
  });

  /** Delivery reports for messages we sent (statusCallback). */
  router.post('/twilio/status', async (req, res) => {
    assertFromTwilio(engine, req);
    const body = req.body as Record<string, string | undefined>;
    if (!body.MessageSid || !body.MessageStatus) throw new AppError('invalid_input', 'MessageSid and MessageStatus are required');
    await engine.messages.deliveryStatus({
      providerId: body.MessageSid,
      status: body.MessageStatus,
      errorCode: body.ErrorCode || undefined,
    });
    res.status(204).end();
  });

  return router;
}
