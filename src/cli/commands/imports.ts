import path from 'node:path';
import { importConsents } from '../../consent/import.ts';
import { AppError } from '../../errors.ts';
import { importLeads } from '../../leads/import.ts';
import { parseCommandArgs } from '../args.ts';
import type { CliContext, Command } from '../command.ts';
import { progressBar } from '../progress.ts';

function oneFile(args: string[], what: string): string {
  const { positionals } = parseCommandArgs(args, {});
  if (positionals.length !== 1) throw new AppError('invalid_input', `${what} takes exactly one file`);
  return path.resolve(positionals[0]!);
}

function reportRejected(ctx: CliContext, rejected: { row: number; reason: string }[]): number {
  if (rejected.length === 0) return 0;
  ctx.stdout.write(`rejected ${rejected.length} row(s); the good rows were kept:\n`);
  for (const r of rejected) ctx.stdout.write(`  row ${r.row}: ${r.reason}\n`);
  return 1;
}

export const leadsImportCommand: Command = {
  name: ['leads', 'import'],
  summary: 'create or update leads from CSV or JSON (by external_id); bad rows are named, good rows kept',
  usage: 'leads import <file.csv|file.json>',
  async run(args, ctx) {
    const file = oneFile(args, 'leads import');
    const database = await ctx.database();
    const bar = progressBar(ctx.stderr, 'leads');
    const report = await importLeads(database.db, file, { onProgress: (done, total) => bar.update(done, total) }).finally(() => bar.stop());
    ctx.stdout.write(`imported ${report.imported} lead(s) (${report.created} new, ${report.updated} updated)\n`);
    for (const w of report.warnings) ctx.stdout.write(`  row ${w.row}: warning: ${w.message}\n`);
    return reportRejected(ctx, report.rejected);
  },
};

export const consentImportCommand: Command = {
  name: ['consent', 'import'],
  summary: 'append consent history from CSV (external_id,channel,purpose,action,occurred_at,source)',
  usage: 'consent import <file.csv>',
  async run(args, ctx) {
    const file = oneFile(args, 'consent import');
    const database = await ctx.database();
    const bar = progressBar(ctx.stderr, 'consent');
    const report = await importConsents(database, file, { onProgress: (done, total) => bar.update(done, total) }).finally(() => bar.stop());
    ctx.stdout.write(`imported ${report.imported} consent event(s)\n`);
    return reportRejected(ctx, report.rejected);
  },
};
