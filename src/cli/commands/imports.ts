import fs from 'node:fs';
import path from 'node:path';
import { csvLine } from '../../csv.ts';
import type { Engine } from '../../engine.ts';
import { KEPT_PROBLEMS, type ImportProblem, type ImportReport } from '../../leads/import.ts';
import { AppError } from '../../errors.ts';
import { parseCommandArgs } from '../args.ts';
import type { CliContext, Command } from '../command.ts';
import { tuneHeapForBulkWork } from '../heap.ts';
import { progressBar } from '../progress.ts';

type Importer<R> = (engine: Engine, file: string, options: { onProgress: (done: number, total: number) => void }) => Promise<R>;

/** Runs an import of `file` behind a progress bar. */
async function importFile<R>(file: string, ctx: CliContext, label: string, importer: Importer<R>): Promise<R> {
  tuneHeapForBulkWork();
  const engine = await ctx.engine();
  const bar = progressBar(ctx.stderr, label);
  try {
    return await importer(engine, file, { onProgress: (done, total) => bar.update(done, total) });
  } finally {
    bar.stop();
  }
}

function theFile(positionals: string[], label: string): string {
  if (positionals.length !== 1) throw new AppError('invalid_input', `${label} import takes exactly one file`);
  return path.resolve(positionals[0]!);
}

/**
 * Every problem of an import, one CSV line each (row, kind, message), written as found: the
 * report shows the first KEPT_PROBLEMS of each kind, this file all of them, in memory that does
 * not grow with the file. It is removed again when the report shows everything.
 */
class ProblemsFile {
  private fd: number | undefined;
  constructor(readonly file: string) {}

  write(problem: ImportProblem): void {
    if (this.fd === undefined) {
      this.fd = fs.openSync(this.file, 'w');
      fs.writeSync(this.fd, 'row,kind,message\n');
    }
    fs.writeSync(this.fd, csvLine([problem.row, problem.kind, problem.kind === 'rejected' ? problem.reason : problem.message]) + '\n');
  }

  /** Closes the file; keeps it only when the report leaves problems out. */
  close(needed: boolean): boolean {
    if (this.fd === undefined) return false;
    fs.closeSync(this.fd);
    if (!needed) fs.rmSync(this.file, { force: true });
    return needed;
  }
}

function reportRejected(ctx: CliContext, rejected: { row: number; reason: string }[], count = rejected.length): number {
  if (count === 0) return 0;
  ctx.stdout.write(`rejected ${count} row(s); the good rows were kept:\n`);
  for (const r of rejected) ctx.stdout.write(`  row ${r.row}: ${r.reason}\n`);
  if (count > rejected.length) ctx.stdout.write(`  … and ${count - rejected.length} more\n`);
  return 1;
}

export const leadsImportCommand: Command = {
  name: ['leads', 'import'],
  summary: 'create or update leads from CSV or JSON (by external_id); bad rows are named, good rows kept',
  usage: 'leads import <file.csv|file.json> [--problems <file.csv>]',
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, { problems: { type: 'string' } });
    const file = theFile(positionals, 'leads');
    const problems = new ProblemsFile(path.resolve(values.problems ?? file.replace(/(\.[^./]*)?$/, '.problems.csv')));
    let report: ImportReport | undefined;
    try {
      report = await importFile(file, ctx, 'leads', (engine, f, options) =>
        engine.leads.import(f, { ...options, onProblem: (p) => problems.write(p) }),
      );
    } finally {
      const complete = report !== undefined && report.rejectedCount <= KEPT_PROBLEMS && report.warningCount <= KEPT_PROBLEMS;
      if (problems.close(!complete)) ctx.stdout.write(`every rejected row and warning is listed in ${problems.file}\n`);
    }
    ctx.stdout.write(`imported ${report.imported} row(s): ${report.created} new lead(s), ${report.updated} updated\n`);
    for (const w of report.warnings) ctx.stdout.write(`  row ${w.row}: warning: ${w.message}\n`);
    if (report.warningCount > report.warnings.length)
      ctx.stdout.write(`  … and ${report.warningCount - report.warnings.length} more warning(s)\n`);
    return reportRejected(ctx, report.rejected, report.rejectedCount);
  },
};

export const consentImportCommand: Command = {
  name: ['consent', 'import'],
  summary: 'append consent history from CSV (external_id,channel,purpose,action,occurred_at,source)',
  usage: 'consent import <file.csv>',
  async run(args, ctx) {
    const { positionals } = parseCommandArgs(args, {});
    const report = await importFile(theFile(positionals, 'consent'), ctx, 'consent', (engine, file, options) =>
      engine.consent.import(file, options),
    );
    ctx.stdout.write(`imported ${report.imported} consent event(s)\n`);
    return reportRejected(ctx, report.rejected);
  },
};
