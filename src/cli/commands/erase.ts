import readline from 'node:readline/promises';
import { AppError } from '../../errors.ts';
import type { ErasureReport } from '../../leads/erase.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';

function counts(r: ErasureReport): string {
  return (
    `${r.messages} message(s) (${r.unsent} of them not sent yet), ${r.contacts} inbound contact(s) (${r.closed} of them open), ` +
    `${r.events} event(s), ${r.outboxFiles} outbox file(s)`
  );
}

/** Asks on the terminal; only the external id typed back confirms. */
async function confirmed(externalId: string, preview: ErasureReport, stderr: NodeJS.WriteStream): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: stderr, terminal: true });
  try {
    stderr.write(`This erases the personal data of ${externalId} for good: ${counts(preview)}. The consent ledger is kept.\n`);
    // End of input (Ctrl-D) aborts the question: not confirmed either.
    const answer = await rl.question(`Type ${externalId} to erase it (anything else cancels): `).catch(() => undefined);
    return answer?.trim() === externalId;
  } finally {
    rl.close();
  }
}

export const leadsEraseCommand: Command = {
  name: ['leads', 'erase'],
  summary:
    "erase a person's personal data (lead, events, messages and outbox files, replies and notes); asks on a terminal; the ledger keeps a keyed hash",
  usage: 'leads erase <external-id> [--yes] [--dry-run]',
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      yes: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
    });
    const [externalId] = positionals;
    if (!externalId || positionals.length !== 1) throw new AppError('invalid_input', 'leads erase takes exactly one external id');
    const dryRun = values['dry-run'];
    // Refuse before opening anything: a script that forgot --yes must not hang on a question or erase unasked.
    if (!dryRun && !values.yes && !process.stdin.isTTY) {
      throw new AppError(
        'invalid_input',
        'leads erase asks for confirmation on a terminal, and stdin is not one: pass --yes to erase without asking (--dry-run shows what would go)',
      );
    }
    const engine = await ctx.engine();
    if (dryRun || !values.yes) {
      const preview = await engine.leads.erase(externalId, { dryRun: true });
      if (dryRun) {
        ctx.stdout.write(`would erase lead ${externalId}: ${counts(preview)}; consent ledger kept; nothing changed (dry run)\n`);
        return 0;
      }
      if (!(await confirmed(externalId, preview, ctx.stderr))) {
        ctx.stderr.write('not confirmed: nothing was erased\n');
        return 1;
      }
    }
    const report = await engine.leads.erase(externalId);
    ctx.stdout.write(`erased lead ${externalId} (now erased-${report.lead}): ${counts(report)} cleared; consent ledger kept\n`);
    return 0;
  },
};
