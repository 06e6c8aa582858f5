import { requireCampaign } from '../../campaigns/load.ts';
import { outboxDir } from '../../channels/index.ts';
import { AppError } from '../../errors.ts';
import { isSettled, type DeliverySummary } from '../../messages/report.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { tuneHeapForBulkWork } from '../heap.ts';
import { untilSignal } from '../signals.ts';

export const runCommand: Command = {
  name: ['run'],
  summary:
    'start a run of a lead campaign now (a step reaches each lead once per occurrence; --occurrence names a new one to send again); --wait returns when every message is sent or failed',
  usage: 'run <campaign-id> [--wait] [--occurrence <label>]',
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      wait: { type: 'boolean', default: false },
      occurrence: { type: 'string' },
    });
    const [id] = positionals;
    if (!id || positionals.length > 1) throw new AppError('invalid_input', 'run takes exactly one campaign id');
    const named = values.occurrence?.trim();
    if (named === '') throw new AppError('invalid_input', '--occurrence must not be empty');

    // A run records its whole audience, rendered, a batch at a time.
    tuneHeapForBulkWork();
    const engine = await ctx.engine();
    const set = engine.loadCampaigns();
    const campaign = requireCampaign(set, id);
    const { runId, occurrence, counts } = await engine.run(campaign, set, { occurrence: named, trigger: 'manual' });
    ctx.stderr.write(
      `run ${runId} of ${campaign.id} (occurrence '${occurrence}'): ${counts.audience} in audience, ${counts.enrolled} enrolled ` +
        `(${counts.existing} already); first step: ${counts.queued} queued, ${counts.suppressed} suppressed, ${counts.failed} failed\n`,
    );

    const workerRunning = await engine.messages.dispatcherAlive();
    if (workerRunning && !values.wait) {
      ctx.stderr.write('a running serve/worker process sends the queued messages\n');
      return 0;
    }
    if (!workerRunning) ctx.stderr.write('no worker is running; sending from this process\n');
    const dispatcher = workerRunning ? undefined : await engine.startDispatcher();
    const signal = untilSignal();
    let summary: DeliverySummary;
    try {
      for (;;) {
        summary = await engine.campaigns.deliverySummary(campaign.id, occurrence);
        if (isSettled(summary)) break;
        const interrupted = await Promise.race([signal.promise, new Promise((r) => setTimeout(r, 250, false))]);
        if (interrupted) {
          ctx.stderr.write('interrupted: queued messages stay queued and are sent by the next worker\n');
          break;
        }
      }
    } finally {
      signal.dispose();
      if (dispatcher) await engine.stop();
    }
    ctx.stdout.write(formatSummary(summary, ctx.config.smtpUrl ? undefined : outboxDir(ctx.config)));
    return summary.failed > 0 ? 1 : 0;
  },
};

export function formatSummary(s: DeliverySummary, outbox: string | undefined): string {
  const lines = [`sent ${s.sent}, failed ${s.failed}, suppressed ${s.suppressed}, still queued ${s.queued + s.sending + s.retrying}`];
  if (s.scheduled > 0) lines.push(`scheduled for later (send window or frequency cap): ${s.scheduled}`);
  if (s.possibleDuplicates > 0) lines.push(`possible duplicates (re-sent after a crash): ${s.possibleDuplicates}`);
  for (const [reason, n] of Object.entries(s.reasons)) lines.push(`  ${reason.padEnd(18)} ${n}`);
  if (outbox && s.sent > 0) lines.push(`email went to the outbox: ${outbox}`);
  return lines.join('\n') + '\n';
}
