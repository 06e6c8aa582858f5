import crypto from 'node:crypto';
import type pg from 'pg';
import { findActiveUser } from '../access/users.ts';
import { closeChannels } from '../channels/index.ts';
import type { ChannelAdapters } from '../channels/channel.ts';
import type { Clock } from '../clock.ts';
import { statement } from '../db/statement.ts';
import { AppError, errorMessage } from '../errors.ts';
import { toE164 } from '../leads/phone.ts';
import { findLeadByExternalId } from '../leads/store.ts';
import { requireCampaign } from './load.ts';
import { previewStep, requireStep, type PreviewDeps, type PreviewFor } from './preview.ts';
import type { CampaignSet } from './set.ts';

/**
 * Test sends: one step's message, rendered as a run renders it (campaigns/preview.ts), marked
 * `[TEST]` and sent to a Touchpoint user's own address or one on the seed list (TEST_RECIPIENTS),
 * never to anyone else: a test is not marketing to the lead it is rendered for, so it needs no
 * consent and must never reach that lead unless the lead's address is one of those.
 *
 * It goes straight through the configured channel adapter (the same SMTP or Twilio transport as a
 * run), not through the outbox: the outbox's dispatcher reads the lead's consent at send start and
 * everything that reads `messages` (counts, reports, frequency caps, timelines, reply threading)
 * would have to learn to skip tests. Exactly once and on record instead: the `test_sends` row is
 * written before the message is handed over and completed after, and nothing ever sends it again;
 * a crash in between leaves it `sending` (it may or may not have left), which is what it is.
 */

const START = statement(
  'campaigns.start-test-send',
  `INSERT INTO test_sends (campaign_id, step_id, channel, template, lead_id, persona, locale, to_address, requested_by, status, created_at)
   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'sending', $10) RETURNING id`,
);
const FINISH = statement(
  'campaigns.finish-test-send',
  `UPDATE test_sends SET status = $2, provider_id = $3, error = $4, finished_at = $5 WHERE id = $1`,
);

export interface TestSendDeps extends PreviewDeps {
  pool: pg.Pool;
  clock: Clock;
  /** The engine's signing key: test Message-IDs are signed with a key derived from it (see below). */
  secret: string;
  /** TEST_RECIPIENTS, normalised (config.ts). */
  seedList: readonly string[];
  phoneRegion: string | undefined;
  /** The configured adapters, opened for this one send with the given Message-ID key and closed after. */
  channels(messageIdSecret: string): ChannelAdapters;
}

export interface TestSendRequest {
  campaign: string;
  /** The step's id; the first step when absent. */
  step?: string;
  /** A lead's external id, or a persona (and locale) rendered with sample data. */
  subject: { lead: string } | { persona: string; locale?: string };
  to: string;
  /** Who asked, for the record: `user:<email>`, `key:<prefix>`, `cli`. */
  requestedBy: string;
}

export interface TestSendResult {
  id: number;
  campaign: string;
  step: string;
  channel: 'email' | 'sms';
  template: string;
  persona: string;
  locale: string | null;
  lead: string | null;
  to: string;
  subject: string;
  provider_id: string | null;
}

/** A prefix that says, in the subject (email) or the text (SMS), that this is not the real thing. */
export const TEST_MARK = '[TEST]';

/** Where a test may go, as a sentence for error messages and pages. */
export const TEST_RECIPIENT_RULE = "a test goes only to a Touchpoint user's own email address or to an address on TEST_RECIPIENTS";

/** `to` written the way the seed list is: email in lower case, a phone number in E.164. */
function normalise(to: string, phoneRegion: string | undefined): { address: string; kind: 'email' | 'sms' } | undefined {
  const trimmed = to.trim();
  if (trimmed.includes('@')) return { address: trimmed.toLowerCase(), kind: 'email' };
  const phone = toE164(trimmed, phoneRegion);
  return phone ? { address: phone, kind: 'sms' } : undefined;
}

/**
 * Replies to a test must not be taken for replies to a real message: its Message-ID is signed with
 * a key of its own, which the inbound side does not accept, so a test's id never names a message.
 */
function testMessageIdSecret(secret: string): string {
  return crypto.createHmac('sha256', secret).update('test-sends').digest('hex');
}

/** Renders and sends one test message; refuses any recipient outside the rule, before rendering anything. */
export async function sendTestMessage(deps: TestSendDeps, set: CampaignSet, request: TestSendRequest): Promise<TestSendResult> {
  const to = normalise(request.to, deps.phoneRegion);
  if (!to) throw new AppError('invalid_input', `'${request.to}' is neither an email address nor a phone number`);
  const allowed =
    deps.seedList.includes(to.address) || (to.kind === 'email' && (await findActiveUser(deps.pool, to.address)) !== undefined);
  if (!allowed) throw new AppError('forbidden', `${to.address} may not receive tests: ${TEST_RECIPIENT_RULE}`);

  const campaign = requireCampaign(set, request.campaign);
  const step = requireStep(campaign, request.step);
  let subject: PreviewFor;
  if ('lead' in request.subject) {
    const lead = await findLeadByExternalId(deps.pool, request.subject.lead);
    if (!lead) throw new AppError('not_found', `no lead with external id '${request.subject.lead}'`);
    subject = { lead };
  } else {
    subject = { persona: request.subject.persona, locale: request.subject.locale ?? null };
  }
  const message = previewStep(deps, set, campaign, step.id, subject);
  const lead = 'lead' in subject ? subject.lead : null;
  if (message.channel !== to.kind) {
    throw new AppError(
      'invalid_input',
      message.channel === 'sms'
        ? `step ${step.id} sends an SMS here: its test goes to a phone number on TEST_RECIPIENTS (users have no phone number on record)`
        : `step ${step.id} sends an email here: its test goes to an email address, not ${to.address}`,
    );
  }

  const { rows } = await deps.pool.query<{ id: number }>(START, [
    campaign.id,
    step.id,
    message.channel,
    message.template,
    lead?.id ?? null,
    message.persona,
    message.locale,
    to.address,
    request.requestedBy,
    deps.clock.now(),
  ]);
  const id = rows[0]!.id;
  const subjectLine = message.channel === 'email' ? `${TEST_MARK} ${message.subject}` : '';
  const channels = deps.channels(testMessageIdSecret(deps.secret));
  try {
    const sent = await channels[message.channel]!.send({
      id,
      to: to.address,
      subject: subjectLine,
      text: message.channel === 'sms' ? `${TEST_MARK} ${message.text}` : message.text,
      html: message.html ?? '',
      headers: message.channel === 'email' ? { 'X-Touchpoint-Campaign': campaign.id, 'X-Touchpoint-Test': 'true' } : {},
    });
    await deps.pool.query(FINISH, [id, 'sent', sent?.providerId ?? null, null, deps.clock.now()]);
    return {
      id,
      campaign: campaign.id,
      step: step.id,
      channel: message.channel,
      template: message.template,
      persona: message.persona,
      locale: message.locale,
      lead: lead?.externalId ?? null,
      to: to.address,
      subject: subjectLine,
      provider_id: sent?.providerId ?? null,
    };
  } catch (err) {
    await deps.pool.query(FINISH, [id, 'failed', null, errorMessage(err), deps.clock.now()]);
    throw new AppError('unprocessable', `the test was not sent: ${errorMessage(err)}`, { cause: err });
  } finally {
    await closeChannels(channels);
  }
}
