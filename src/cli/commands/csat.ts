import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { formatTable } from '../table.ts';

export const csatCommand: Command = {
  name: ['csat'],
  summary: 'satisfaction answers per queue, agent and campaign: surveyed, answered, response rate, average, distribution 1–5',
  usage: 'csat [--json]',
  async run(args, ctx) {
    const { values } = parseCommandArgs(args, { json: { type: 'boolean', default: false } });
    const report = await (await ctx.engine()).inbox.csatReport();
    if (values.json) {
      ctx.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return 0;
    }
    const tables = (['queue', 'agent', 'campaign'] as const).map((dimension) =>
      formatTable(
        [dimension, 'surveyed', 'answered', 'rate', 'average', '1', '2', '3', '4', '5'],
        report[dimension].map((l) => [
          l.key ?? '(none)',
          String(l.surveyed),
          String(l.answered),
          `${Math.round(l.response_rate * 100)}%`,
          l.average === null ? '-' : l.average.toFixed(2),
          ...l.distribution.map(String),
        ]),
      ),
    );
    ctx.stdout.write(`${tables.join('\n\n')}\n`);
    return 0;
  },
};
