import { TEST_RECIPIENT_RULE } from '../../campaigns/test-send.ts';
import { AppError } from '../../errors.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';

export const sendTestCommand: Command = {
  name: ['send-test'],
  summary: `send one step's message, marked [TEST], rendered for a lead or a persona (${TEST_RECIPIENT_RULE}); outside consent, counts and reports`,
  usage: 'send-test <campaign-id> --step <id> (--lead <external-id> | --persona <id> [--locale <locale>]) --to <address>',
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      step: { type: 'string' },
      lead: { type: 'string' },
      persona: { type: 'string' },
      locale: { type: 'string' },
      to: { type: 'string' },
    });
    const [campaign] = positionals;
    if (!campaign || positionals.length > 1) throw new AppError('invalid_input', 'send-test takes exactly one campaign id');
    if (!values.step) throw new AppError('invalid_input', 'send-test needs --step <id>');
    if (!values.to) throw new AppError('invalid_input', `send-test needs --to <address>: ${TEST_RECIPIENT_RULE}`);
    if (Boolean(values.lead) === Boolean(values.persona)) throw new AppError('invalid_input', 'send-test needs either --lead or --persona');
    if (values.locale && !values.persona) throw new AppError('invalid_input', '--locale goes with --persona (a lead has its own)');
    const engine = await ctx.engine();
    const sent = await engine.sendTest({
      campaign,
      step: values.step,
      subject: values.lead ? { lead: values.lead } : { persona: values.persona!, locale: values.locale },
      to: values.to,
      requestedBy: 'cli',
    });
    const who = sent.lead
      ? `lead ${sent.lead} (persona ${sent.persona})`
      : `persona ${sent.persona}${sent.locale ? `, locale ${sent.locale}` : ''}, sample data`;
    ctx.stdout.write(
      `test ${sent.id} sent to ${sent.to} (${sent.channel}): ${campaign}/${sent.step} for ${who}, template ${sent.template}` +
        `${sent.subject ? `\nSubject: ${sent.subject}` : ''}\n`,
    );
    return 0;
  },
};
