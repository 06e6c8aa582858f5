import { consentAsOf, type ConsentAnswer } from '../../consent/check.ts';
import { verifyLedger } from '../../consent/verify.ts';
import { AppError } from '../../errors.ts';
import { findLeadByExternalId } from '../../leads/store.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { progressBar } from '../progress.ts';

export const consentVerifyCommand: Command = {
  name: ['consent', 'verify'],
  summary: 'recompute the consent ledger hash chain; names the first altered or missing event (exit 1)',
  usage: 'consent verify',
  async run(args, ctx) {
    parseCommandArgs(args, {}, false);
    const database = await ctx.database();
    const bar = progressBar(ctx.stderr, 'ledger');
    const report = await verifyLedger(database.pool, (done, total) => bar.update(done, total)).finally(() => bar.stop());
    if (report.broken) {
      ctx.stdout.write(`ledger BROKEN at consent event ${report.broken.id}: ${report.broken.reason} (${report.checked} event(s) before it verify)\n`);
      return 1;
    }
    ctx.stdout.write(`ledger intact: ${report.checked} event(s) verify\n`);
    return 0;
  },
};

export function formatAnswer(answer: ConsentAnswer): string {
  const head = answer.allowed ? `allowed (${answer.status})` : `not allowed (${answer.reason})`;
  const e = answer.decidingEvent;
  if (!e) return `${head}\ndeciding event: none (no consent event before this instant)\n`;
  return `${head}\ndeciding event: #${e.id} ${e.action} on ${e.occurred_at.toISOString()} via ${e.source} by ${e.actor}${e.notice_version ? `, notice ${e.notice_version}` : ''}\n`;
}

export const consentCheckCommand: Command = {
  name: ['consent', 'check'],
  summary: 'was a lead allowed to get a message on a channel for a purpose, now or at an instant (exit 1 if not)',
  usage: 'consent check --lead <external-id> --channel email|sms --purpose <purpose> [--at <ISO instant>] [--json]',
  async run(args, ctx) {
    const { values } = parseCommandArgs(
      args,
      { lead: { type: 'string' }, channel: { type: 'string' }, purpose: { type: 'string' }, at: { type: 'string' }, json: { type: 'boolean', default: false } },
      false,
    );
    if (!values.lead || !values.purpose || (values.channel !== 'email' && values.channel !== 'sms')) {
      throw new AppError('invalid_input', 'consent check needs --lead, --channel email|sms and --purpose');
    }
    const at = values.at ? new Date(values.at) : new Date();
    if (Number.isNaN(at.getTime())) throw new AppError('invalid_input', `--at must be an ISO instant like 2026-11-01T12:00:00Z, got '${values.at}'`);
    const database = await ctx.database();
    const lead = await findLeadByExternalId(database.db, values.lead);
    if (!lead) throw new AppError('not_found', `no lead '${values.lead}'`);
    const answer = await consentAsOf(database.pool, lead.id, values.channel, values.purpose, at);
    ctx.stdout.write(values.json ? JSON.stringify({ lead: values.lead, channel: values.channel, purpose: values.purpose, at, ...answer }, null, 2) + '\n' : formatAnswer(answer));
    return answer.allowed ? 0 : 1;
  },
};
