import express, { Router, type Request } from 'express';
import twilio from 'twilio';
import type { Engine } from '../engine.ts';
import { AppError } from '../errors.ts';
import { handleInboundSms } from '../inbound/sms.ts';
import { recordDeliveryStatus } from '../messages/delivery.ts';
import { escapeHtml } from './page.ts';

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

/** Provider webhooks: no API key, a provider signature instead. */
export function webhooksRouter(engine: Engine): Router {
  const router = Router();
  router.use(express.urlencoded({ extended: false, limit: '64kb' }));

  router.post('/twilio/sms', async (req, res) => {
    assertFromTwilio(engine, req);
    const body = req.body as Record<string, string | undefined>;
    if (!body.MessageSid || !body.From) throw new AppError('invalid_input', 'MessageSid and From are required');
    const result = await handleInboundSms(
      engine.database.pool,
      { messageSid: body.MessageSid, from: body.From, to: body.To ?? '', body: body.Body ?? '', optOutType: body.OptOutType },
      engine.config.smsHelpText,
      engine.clock.now(),
    );
    res.type('text/xml').send(twiml(result.reply));
  });

  /** Delivery reports for messages we sent (statusCallback). */
  router.post('/twilio/status', async (req, res) => {
    assertFromTwilio(engine, req);
    const body = req.body as Record<string, string | undefined>;
    if (!body.MessageSid || !body.MessageStatus) throw new AppError('invalid_input', 'MessageSid and MessageStatus are required');
    await recordDeliveryStatus(
      engine.database.pool,
      { providerId: body.MessageSid, status: body.MessageStatus, errorCode: body.ErrorCode || undefined },
      engine.clock.now(),
    );
    res.status(204).end();
  });

  return router;
}
