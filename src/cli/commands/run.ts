import readline from 'node:readline/promises';
import { requireCampaign } from '../../campaigns/load.ts';
import type { RunPreview } from '../../campaigns/run-preview.ts';
import { outboxDir } from '../../channels/index.ts';
import { AppError } from '../../errors.ts';
import { isSettled, type DeliverySummary } from '../../messages/report.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { tuneHeapForBulkWork } from '../heap.ts';
import { formatTable } from '../table.ts';
import { untilSignal } from '../signals.ts';

export const runCommand: Command = {
  name: ['run'],
  summary:
    'start a run of a lead campaign now (a step reaches each lead once per occurrence; --occurrence names a new one to send again); shows the plan and asks first on a terminal (--yes: do not ask); --wait returns when every message is sent or failed',
  usage: 'run <campaign-id> [--yes] [--wait] [--occurrence <label>]',
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      wait: { type: 'boolean', default: false },
      yes: { type: 'boolean', default: false },
      occurrence: { type: 'string' },
    });
    const [id] = positionals;
    if (!id || positionals.length > 1) throw new AppError('invalid_input', 'run takes exactly one campaign id');
    const named = values.occurrence?.trim();
    if (named === '') throw new AppError('invalid_input', '--occurrence must not be empty');
    // Refuse before opening anything: a script that forgot --yes must neither hang on a question nor send unasked.
    if (!values.yes && !process.stdin.isTTY) {
      throw new AppError(
        'invalid_input',
        'run shows the plan and asks for confirmation on a terminal, and stdin is not one: pass --yes to run without asking (`plan` shows what it would send)',
      );
    }

    // A run records its whole audience, rendered, a batch at a time.
    tuneHeapForBulkWork();
    const engine = await ctx.engine();
    const set = engine.loadCampaigns();
    const campaign = requireCampaign(set, id);
    let confirmedOccurrence = named;
    if (!values.yes) {
      const preview = await engine.previewRun(campaign, set, named);
      if (!(await confirmed(preview, ctx.stderr))) {
        ctx.stderr.write('not confirmed: nothing was recorded or sent\n');
        return 1;
      }
      // The run is the one shown, even if a schedule's next firing passed while the question waited.
      confirmedOccurrence = preview.occurrence;
    }
    const { runId, occurrence, counts } = await engine.run(campaign, set, { occurrence: confirmedOccurrence, trigger: 'manual' });
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

/** The plan of the run, as the question before it shows it. */
export function formatRunPreview(p: RunPreview): string {
  const head = `Run ${p.campaign}, occurrence '${p.occurrence}': ${p.send} message(s) to send, ${p.suppressed} left out`;
  if (p.rows.length === 0) return `${head}\n`;
  return `${head}\n\n${formatTable(
    ['step', 'channel', 'outcome', 'count'],
    p.rows.map((r) => [r.step, r.channel, r.outcome, String(r.count)]),
  )}\n\n`;
}

/** Asks on the terminal; only `y` or `yes` confirms. */
async function confirmed(preview: RunPreview, stderr: NodeJS.WriteStream): Promise<boolean> {
  stderr.write(formatRunPreview(preview));
  const rl = readline.createInterface({ input: process.stdin, output: stderr, terminal: true });
  try {
    // End of input (Ctrl-D) aborts the question: not confirmed either.
    const answer = await rl.question(`Start this run? [y/N] `).catch(() => undefined);
    return /^y(es)?$/i.test(answer?.trim() ?? '');
  } finally {
    rl.close();
  }
}

export function formatSummary(s: DeliverySummary, outbox: string | undefined): string {
  const lines = [`sent ${s.sent}, failed ${s.failed}, suppressed ${s.suppressed}, still queued ${s.queued + s.sending + s.retrying}`];
  if (s.scheduled > 0) lines.push(`scheduled for later (send window or frequency cap): ${s.scheduled}`);
  if (s.possibleDuplicates > 0) lines.push(`possible duplicates (re-sent after a crash): ${s.possibleDuplicates}`);
  for (const [reason, n] of Object.entries(s.reasons)) lines.push(`  ${reason.padEnd(18)} ${n}`);
  if (outbox && s.sent > 0) lines.push(`email went to the outbox: ${outbox}`);
  return lines.join('\n') + '\n';
}
