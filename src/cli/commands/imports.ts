import path from 'node:path';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import { parseCommandArgs } from '../args.ts';
import type { CliContext, Command } from '../command.ts';
import { progressBar } from '../progress.ts';

type Importer<R> = (engine: Engine, file: string, options: { onProgress: (done: number, total: number) => void }) => Promise<R>;

/** Reads the one file argument and runs an import behind a progress bar. */
async function importFile<R>(args: string[], ctx: CliContext, label: string, importer: Importer<R>): Promise<R> {
  const { positionals } = parseCommandArgs(args, {});
  if (positionals.length !== 1) throw new AppError('invalid_input', `${label} import takes exactly one file`);
  const engine = await ctx.engine();
  const bar = progressBar(ctx.stderr, label);
  try {
    return await importer(engine, path.resolve(positionals[0]!), { onProgress: (done, total) => bar.update(done, total) });
  } finally {
    bar.stop();
  }
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
    const report = await importFile(args, ctx, 'leads', (engine, file, options) => engine.leads.import(file, options));
    ctx.stdout.write(`imported ${report.imported} row(s): ${report.created} new lead(s), ${report.updated} updated\n`);
    for (const w of report.warnings) ctx.stdout.write(`  row ${w.row}: warning: ${w.message}\n`);
    return reportRejected(ctx, report.rejected);
  },
};

export const consentImportCommand: Command = {
  name: ['consent', 'import'],
  summary: 'append consent history from CSV (external_id,channel,purpose,action,occurred_at,source)',
  usage: 'consent import <file.csv>',
  async run(args, ctx) {
    const report = await importFile(args, ctx, 'consent', (engine, file, options) => engine.consent.import(file, options));
    ctx.stdout.write(`imported ${report.imported} consent event(s)\n`);
    return reportRejected(ctx, report.rejected);
  },
};
