import fs from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { requireCampaign } from '../../campaigns/load.ts';
import { planSummary, streamSink, writePlanJson, writePlanNdjson, type PlanSummary } from '../../campaigns/plan-output.ts';
import { AppError } from '../../errors.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { tuneHeapForBulkWork } from '../heap.ts';
import { formatTable } from '../table.ts';

const FORMATS = ['table', 'json', 'ndjson'] as const;

export const planCommand: Command = {
  name: ['plan'],
  summary: 'show who would get which step, and who is suppressed and why; sends nothing',
  usage: 'plan <campaign-id> [--occurrence <label>] [--json | --format table|json|ndjson] [--out <file>]',
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      json: { type: 'boolean', default: false },
      format: { type: 'string' },
      out: { type: 'string' },
      occurrence: { type: 'string' },
    });
    const [id] = positionals;
    if (!id || positionals.length > 1) throw new AppError('invalid_input', 'plan takes exactly one campaign id');
    if (values.json && values.format && values.format !== 'json') throw new AppError('invalid_input', '--json and --format disagree');
    const format = values.json ? 'json' : (values.format ?? 'table');
    if (!(FORMATS as readonly string[]).includes(format)) {
      throw new AppError('invalid_input', `--format must be one of ${FORMATS.join(', ')}, not '${format}'`);
    }
    tuneHeapForBulkWork();
    const engine = await ctx.engine();
    const set = engine.loadCampaigns();
    const campaign = requireCampaign(set, id);
    const occurrence = values.occurrence?.trim() || undefined;
    const batches = engine.planBatches(campaign, set, { occurrence });
    const out = values.out ? fs.createWriteStream(path.resolve(values.out)) : ctx.stdout;
    const write = streamSink(out);
    try {
      if (format === 'json') await writePlanJson(campaign.id, batches, write);
      else if (format === 'ndjson') await writePlanNdjson(campaign.id, batches, write);
      else await write(renderPlan(await planSummary(campaign.id, batches)));
    } finally {
      if (out !== ctx.stdout) {
        out.end();
        await finished(out);
      }
    }
    return 0;
  },
};

const countTable = (title: string, counts: Record<string, number>, sort: 'count' | 'key' = 'count') =>
  formatTable(
    [title, 'count'],
    Object.entries(counts)
      .sort(sort === 'count' ? (a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1) : (a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([key, n]) => [key, String(n)]),
  );

/** The plan as a person reads it: counts by step, persona, channel, template, local hour and reason, and a few examples. */
export function renderPlan(summary: PlanSummary): string {
  const out: string[] = [`Plan for ${summary.campaign}`, ''];
  if (summary.recipients > 0) {
    out.push(
      countTable('step', summary.byStep),
      '',
      countTable('persona', summary.byPersona),
      '',
      countTable('channel', summary.byChannel),
      '',
      countTable('template', summary.byTemplate),
      '',
      countTable('local send hour', summary.byLocalHour, 'key'),
      '',
      `First ${summary.sample.recipients.length} of ${summary.recipients} recipient(s):`,
      formatTable(
        ['lead', 'step', 'channel', 'persona', 'template', 'local send time', 'segments'],
        summary.sample.recipients.map((r) => [
          r.lead,
          r.step,
          r.channel,
          r.persona,
          r.template,
          r.send_at,
          r.segments === undefined ? '' : `${r.segments} ${r.encoding}`,
        ]),
      ),
      '',
    );
  }
  if (summary.suppressed > 0) {
    out.push(
      `First ${summary.sample.suppressed.length} of ${summary.suppressed} suppressed:`,
      formatTable(
        ['lead', 'step', 'reason', 'detail'],
        summary.sample.suppressed.map((s) => [s.lead, s.step, s.reason, s.detail ?? '']),
      ),
      '',
    );
  }
  out.push(`${summary.recipients} recipient(s), ${summary.suppressed} suppressed`);
  if (summary.sms.messages > 0) out.push(`SMS cost: ${summary.sms.messages} message(s), ${summary.sms.segments} segment(s)`);
  for (const [reason, n] of Object.entries(summary.byReason).sort((a, b) => b[1] - a[1])) out.push(`  ${reason.padEnd(12)} ${n}`);
  return out.join('\n') + '\n';
}
