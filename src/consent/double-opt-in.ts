import type pg from 'pg';
import { withTransaction } from '../db/tx.ts';
import { statement } from '../db/statement.ts';
import { AppError } from '../errors.ts';
import type { Lead } from '../leads/types.ts';
import { recordMessages } from '../messages/record.ts';
import type { TemplateRenderer } from '../render/render.ts';
import { languageFor, say } from '../render/locale.ts';
import { findTemplate, templateLocale } from '../render/templates.ts';
import { appendConsentEvents, lockLedger } from './ledger.ts';
import { queueReceipt, type ReceiptDeps } from './receipt.ts';
import { CONFIRMATION_PURPOSE } from './state.ts';
import { signToken, type ConfirmPayload } from './tokens.ts';

/** A confirmation link works this long; after that the person signs up again. */
export const CONFIRM_TTL_MS = 7 * 24 * 3_600_000;
export const CONFIRMATION_TEMPLATE = 'consent-confirmation';

/** What sending a confirmation needs: templates, the public URL for links and the key that signs them. */
export interface ConfirmationDeps {
  renderer: TemplateRenderer;
  templatesDir: string;
  publicUrl: string;
  secret: string;
}

const EVENTS_SINCE_GRANT = statement(
  'consent.events-since-grant',
  `SELECT id, action, evidence->>'grant' AS grant FROM consent_events
    WHERE lead_id = $1 AND channel = $2 AND purpose = $3 AND id >= $4 ORDER BY id`,
);

/** The confirmation template for this person, or why none can be sent; checked before the grant is written. */
export function confirmationTemplate(deps: ConfirmationDeps, lead: Lead): string {
  if (!lead.email) throw new AppError('unprocessable', `lead '${lead.externalId}' has no email address to confirm`);
  const template = findTemplate(deps.templatesDir, CONFIRMATION_TEMPLATE, 'default', lead.locale, 'email');
  if (!template)
    throw new AppError(
      'invalid_config',
      `no confirmation template: add ${CONFIRMATION_TEMPLATE}/default.email.hbs to the templates folder`,
    );
  return template;
}

/**
 * Queues the double opt-in email for a grant, in the caller's transaction: a signed, expiring link
 * to `/confirm/<token>`, in the person's language when a template variant exists (the list it names,
 * `{{campaign.name}}`, in the language of the variant chosen). It goes through the outbox like any
 * message, once per grant.
 */
export async function requestConfirmation(
  client: pg.PoolClient,
  deps: ConfirmationDeps,
  lead: Lead,
  grant: { id: number; purpose: string },
  now: Date,
): Promise<{ messageId: number | null; expiresAt: Date }> {
  const template = confirmationTemplate(deps, lead);
  const expiresAt = new Date(now.getTime() + CONFIRM_TTL_MS);
  const payload: ConfirmPayload = {
    kind: 'confirm',
    lead: lead.id,
    channel: 'email',
    purpose: grant.purpose,
    grant: grant.id,
    exp: Math.floor(expiresAt.getTime() / 1000),
  };
  const confirmUrl = `${deps.publicUrl}/confirm/${signToken(deps.secret, payload)}`;
  const words = languageFor(templateLocale(template)).text.confirm;
  const email = deps.renderer.renderEmail(template, {
    lead: { external_id: lead.externalId, email: lead.email, ...(lead.firstName ? { first_name: lead.firstName } : {}) },
    persona: {},
    campaign: {
      id: 'consent',
      name: grant.purpose === 'marketing' ? words.marketingList : say(words.otherList, { purpose: grant.purpose }),
      step: 'confirmation',
    },
    unsubscribe_url: '',
    confirm_url: confirmUrl,
  });
  const recorded = await recordMessages(client, [
    {
      idempotencyKey: `consent:confirmation:${grant.id}`,
      campaignId: 'consent',
      stepId: 'confirmation',
      occurrence: `grant-${grant.id}`,
      leadId: lead.id,
      channel: 'email',
      purpose: CONFIRMATION_PURPOSE,
      persona: 'default',
      template,
      status: 'queued',
      toAddress: lead.email,
      subject: email.subject,
      bodyText: email.text,
      bodyHtml: email.html,
      headers: {},
      dueAt: now,
    },
  ]);
  return { messageId: recorded[0]?.id ?? null, expiresAt };
}

export type ConfirmOutcome = 'confirmed' | 'already-confirmed' | 'superseded';

/**
 * Records the confirmation a link asks for, at most once: a link used again, or one whose grant
 * was withdrawn or re-granted since, changes nothing. The token was verified (signature, kind,
 * expiry) by the caller; this checks it against the ledger under the ledger's lock. With `receipts`
 * (CONSENT_RECEIPTS), the person's receipt of the confirmation is queued in the same transaction.
 */
export async function confirmGrant(
  pool: pg.Pool,
  token: ConfirmPayload,
  evidence: { ip: string | null; user_agent: string | null },
  now: Date,
  receipts?: ReceiptDeps,
): Promise<ConfirmOutcome> {
  return withTransaction(pool, async (client) => {
    await lockLedger(client);
    const { rows } = await client.query<{ id: number; action: string; grant: string | null }>(EVENTS_SINCE_GRANT, [
      token.lead,
      token.channel,
      token.purpose,
      token.grant,
    ]);
    if (rows[0]?.id !== token.grant || rows[0]?.action !== 'grant') return 'superseded';
    if (rows.some((r) => r.action === 'confirm' && r.grant === String(token.grant))) return 'already-confirmed';
    if (rows.slice(1).some((r) => r.action === 'withdraw' || r.action === 'grant')) return 'superseded';
    const confirmation = {
      leadId: token.lead,
      channel: token.channel,
      purpose: token.purpose,
      action: 'confirm' as const,
      source: 'double-opt-in',
      occurredAt: now,
    };
    const [event] = await appendConsentEvents(client, [
      { ...confirmation, evidence: { grant: token.grant, ...evidence }, actor: 'recipient', asItHappens: true },
    ]);
    if (receipts) await queueReceipt(client, receipts, { ...confirmation, id: event! }, now);
    return 'confirmed';
  });
}
