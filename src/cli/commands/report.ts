import { describeComplaintRate, reportRequest, type CampaignReport, type Figures } from '../../campaigns/report.ts';
import { AppError } from '../../errors.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { formatTable } from '../table.ts';

export const reportCommand: Command = {
  name: ['report'],
  summary:
    'what a campaign did, per step, persona, channel and day: sent, delivered, failed, suppressed, replies, opt-outs, conversions, spam complaints; the complaint rate',
  usage: 'report <campaign-id> [--occurrence <label>] [--json]',
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      occurrence: { type: 'string' },
      json: { type: 'boolean', default: false },
    });
    const [id] = positionals;
    if (!id || positionals.length > 1) throw new AppError('invalid_input', 'report takes exactly one campaign id');
    const engine = await ctx.engine();
    const report = await engine.campaigns.report(reportRequest(engine.loadCampaigns(), id, values.occurrence ?? null));
    ctx.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
    return 0;
  },
};

const reasons = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ') || '-';

/** The complaint rate, with its warning or alert in capitals, so that it is not read past. */
function complaintRateLine(report: CampaignReport): string {
  const { text, note } = describeComplaintRate(report.complaint_rate);
  return `complaint rate ${text}${note ? `\n${note.toUpperCase()}` : ''}`;
}

/** One table per split; failures, suppressions and replies with their reasons and categories. */
function formatReport(report: CampaignReport): string {
  const table = <K extends string>(name: string, rows: ({ [k in K]: string } & Figures)[], key: K) =>
    `${name}\n` +
    formatTable(
      [key, 'recorded', 'sent', 'delivered', 'failed', 'suppressed', 'replies', 'opt-outs', 'conversions', 'bounces', 'spam complaints'],
      rows.map((r) => [
        r[key],
        String(r.recorded),
        String(r.sent),
        String(r.delivered),
        reasons(r.failed),
        reasons(r.suppressed),
        reasons(r.replies),
        String(r.opt_outs),
        String(r.conversions),
        `hard ${r.bounces.hard}, soft ${r.bounces.soft}`,
        String(r.spam_complaints),
      ]),
    );
  const occurrences = formatTable(
    ['occurrence', 'recorded', 'sent', 'delivered', 'failed', 'suppressed'],
    report.occurrences.map((o) => [
      o.occurrence,
      String(o.recorded),
      String(o.sent),
      String(o.delivered),
      String(o.failed),
      String(o.suppressed),
    ]),
  );
  return [
    `campaign ${report.campaign}, ${report.occurrence === null ? 'all occurrences' : `occurrence ${report.occurrence}`}`,
    complaintRateLine(report),
    `occurrences\n${occurrences}`,
    table('steps', report.steps, 'step'),
    table('by persona', report.by_persona, 'persona'),
    table('by channel', report.by_channel, 'channel'),
    table('by day (UTC)', report.by_day, 'day'),
  ].join('\n\n');
}
