import Joi from 'joi';

/**
 * The evidence a caller may hand in with a consent decision, and nothing else. The ledger is
 * append-only and outlives erasure, so it holds what proves a decision was made, never free-form
 * data about the person: the IP address and user agent stay as that proof, the rest identifies the
 * form, not what was typed into it.
 */
export const EVIDENCE_FIELDS = ['ip', 'user_agent', 'form', 'page'] as const;

export const evidenceSchema = Joi.object<Partial<Record<(typeof EVIDENCE_FIELDS)[number], string>>>({
  ip: Joi.string().ip({ cidr: 'forbidden' }).description('the IP address the decision came from'),
  user_agent: Joi.string().max(1000).description('the browser or app that sent it'),
  form: Joi.string().max(200).description('which form or screen asked (its name, not the answers typed into it)'),
  page: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .max(2000)
    .pattern(/^[^?#]*$/)
    .description('the page that showed the form, without query string or fragment (they can carry personal data)')
    .messages({ 'string.pattern.base': '{#label} must be a page address without query string or fragment' }),
})
  .unknown(false)
  .messages({ 'object.unknown': `{#label} is not an evidence field: evidence takes only ${EVIDENCE_FIELDS.join(', ')}` })
  .description(
    `only ${EVIDENCE_FIELDS.join(', ')}: the ledger outlives erasure, so it keeps proof of the decision, not data about the person`,
  );
