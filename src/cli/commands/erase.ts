import { AppError } from '../../errors.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';

export const leadsEraseCommand: Command = {
  name: ['leads', 'erase'],
  summary: "erase a person's personal data (leads, events, messages, replies); the ledger keeps a keyed hash",
  usage: 'leads erase <external-id>',
  async run(args, ctx) {
    const { positionals } = parseCommandArgs(args, {});
    if (positionals.length !== 1) throw new AppError('invalid_input', 'leads erase takes exactly one external id');
    const report = await (await ctx.engine()).leads.erase(positionals[0]!);
    ctx.stdout.write(
      `erased lead ${positionals[0]} (now erased-${report.lead}): ${report.messages} message(s), ${report.contacts} inbound contact(s), ${report.events} event(s) cleared; consent ledger kept\n`,
    );
    return 0;
  },
};
