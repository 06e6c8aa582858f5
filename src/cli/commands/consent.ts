import type { ConsentAnswer } from '../../consent/check.ts';
import { EXPORT_HEADER, exportCsvLine, proofCsv } from '../../consent/proof.ts';
import type { Anchor } from '../../consent/verify.ts';
import { csvLine } from '../../csv.ts';
import { AppError } from '../../errors.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { progressBar } from '../progress.ts';

export const consentVerifyCommand: Command = {
  name: ['consent', 'verify'],
  summary: 'recompute the consent ledger hash chain; names the first altered or missing event (exit 1)',
  usage: 'consent verify [--anchor <event-id>:<hash> …]',
  async run(args, ctx) {
    const { values } = parseCommandArgs(args, { anchor: { type: 'string', multiple: true, default: [] } }, false);
    const anchors: Anchor[] = values.anchor.map((text) => {
      const match = /^(\d+):([0-9a-f]{64})$/.exec(text.trim());
      if (!match)
        throw new AppError('invalid_input', `--anchor takes <event-id>:<sha256 hex> as printed by an earlier verify, got '${text}'`);
      return { id: Number(match[1]), hash: match[2]! };
    });
    const engine = await ctx.engine();
    const bar = progressBar(ctx.stderr, 'ledger');
    const report = await engine.consent.verify((done, total) => bar.update(done, total), anchors).finally(() => bar.stop());
    if (report.broken) {
      ctx.stdout.write(
        `ledger BROKEN at consent event ${report.broken.id}: ${report.broken.reason} (${report.checked} event(s) before it verify)\n`,
      );
      return 1;
    }
    ctx.stdout.write(`ledger intact: ${report.checked} event(s) verify${anchors.length ? `, ${anchors.length} anchor(s) match` : ''}\n`);
    // Keeping this line somewhere else (a ticket, a signed mail) lets a later verify prove nothing before it was rewritten.
    if (report.head) ctx.stdout.write(`head: ${report.head.id}:${report.head.hash}\n`);
    return 0;
  },
};

export function formatAnswer(answer: ConsentAnswer): string {
  const head = answer.allowed ? `allowed (${answer.status})` : `not allowed (${answer.reason})`;
  const e = answer.deciding_event;
  if (!e) return `${head}\ndeciding event: none (no consent event before this instant)\n`;
  const later = answer.recorded_later
    ? `recorded later: on ${e.recorded_at.toISOString()}, after this instant (the ledger did not hold it then)\n`
    : '';
  return `${head}\ndeciding event: #${e.id} ${e.action} on ${e.occurred_at.toISOString()} via ${e.source} by ${e.actor}${e.notice_version ? `, notice ${e.notice_version}` : ''}\n${later}`;
}

export const consentCheckCommand: Command = {
  name: ['consent', 'check'],
  summary: 'was a lead allowed to get a message on a channel for a purpose, now or at an instant (exit 1 if not)',
  usage: 'consent check --lead <external-id> --channel email|sms --purpose <purpose> [--at <ISO instant>] [--json]',
  async run(args, ctx) {
    const { values } = parseCommandArgs(
      args,
      {
        lead: { type: 'string' },
        channel: { type: 'string' },
        purpose: { type: 'string' },
        at: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      false,
    );
    if (!values.lead || !values.purpose || (values.channel !== 'email' && values.channel !== 'sms')) {
      throw new AppError('invalid_input', 'consent check needs --lead, --channel email|sms and --purpose');
    }
    const given = values.at ? new Date(values.at) : undefined;
    if (given && Number.isNaN(given.getTime()))
      throw new AppError('invalid_input', `--at must be an ISO instant like 2026-11-01T12:00:00Z, got '${values.at}'`);
    const engine = await ctx.engine();
    const at = given ?? engine.clock.now();
    const lead = await engine.leads.find(values.lead);
    if (!lead) throw new AppError('not_found', `no lead '${values.lead}'`);
    const answer = await engine.consent.asOf(lead.id, values.channel, values.purpose, at);
    ctx.stdout.write(
      values.json
        ? JSON.stringify({ lead: values.lead, channel: values.channel, purpose: values.purpose, at, ...answer }, null, 2) + '\n'
        : formatAnswer(answer),
    );
    return answer.allowed ? 0 : 1;
  },
};

export const consentProofCommand: Command = {
  name: ['consent', 'proof'],
  summary: "a person's full consent history and every message with the event that allowed it (JSON or CSV)",
  usage: 'consent proof --lead <external-id> [--format json|csv]',
  async run(args, ctx) {
    const { values } = parseCommandArgs(args, { lead: { type: 'string' }, format: { type: 'string', default: 'json' } }, false);
    if (!values.lead) throw new AppError('invalid_input', 'consent proof needs --lead <external-id>');
    if (values.format !== 'json' && values.format !== 'csv') throw new AppError('invalid_input', '--format is json or csv');
    const proof = await (await ctx.engine()).consent.proof(values.lead);
    ctx.stdout.write(values.format === 'csv' ? proofCsv(proof) : JSON.stringify(proof, null, 2) + '\n');
    if (proof.chain.broken)
      ctx.stderr.write(
        `warning: this person's consent events do not verify (event ${proof.chain.broken.id}: ${proof.chain.broken.reason})\n`,
      );
    return 0;
  },
};

export const consentExportCommand: Command = {
  name: ['consent', 'export'],
  summary: 'every consent event that happened in a time range, in chain order (CSV or JSON lines)',
  usage: 'consent export --from <ISO instant> --to <ISO instant> [--format csv|jsonl]',
  async run(args, ctx) {
    const { values } = parseCommandArgs(
      args,
      { from: { type: 'string' }, to: { type: 'string' }, format: { type: 'string', default: 'csv' } },
      false,
    );
    const from = new Date(values.from ?? '');
    const to = new Date(values.to ?? '');
    if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from >= to) {
      throw new AppError(
        'invalid_input',
        '--from and --to must be ISO instants with --from before --to, e.g. --from 2026-01-01T00:00:00Z --to 2026-02-01T00:00:00Z',
      );
    }
    if (values.format !== 'csv' && values.format !== 'jsonl') throw new AppError('invalid_input', '--format is csv or jsonl');
    if (values.format === 'csv') ctx.stdout.write(csvLine(EXPORT_HEADER) + '\n');
    let n = 0;
    for await (const batch of (await ctx.engine()).consent.export(from, to)) {
      ctx.stdout.write(batch.map((e) => (values.format === 'csv' ? exportCsvLine(e) : JSON.stringify(e))).join('\n') + '\n');
      n += batch.length;
    }
    ctx.stderr.write(`exported ${n} consent event(s)\n`);
    return 0;
  },
};
