import { AppError } from '../../errors.ts';
import { eventInputSchema, type EventInput } from '../../leads/events.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';

export const eventsSendCommand: Command = {
  name: ['events', 'send'],
  summary: "record a lead's event (starts, exits or converts sequences); --email/--phone create an unknown lead",
  usage: 'events send <event> --lead <external-id> [--props <json>] [--id <event-id>] [--email <a>] [--phone <n>]',
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      lead: { type: 'string' },
      props: { type: 'string' },
      id: { type: 'string' },
      email: { type: 'string' },
      phone: { type: 'string' },
    });
    if (positionals.length !== 1) throw new AppError('invalid_input', 'events send takes exactly one event name');
    let properties: unknown = {};
    if (values.props !== undefined) {
      try {
        properties = JSON.parse(values.props);
      } catch (cause) {
        throw new AppError('invalid_input', `--props is not JSON: ${(cause as Error).message}`, { cause });
      }
    }
    const { value, error } = eventInputSchema.validate({
      event: positionals[0],
      lead: values.lead,
      properties,
      id: values.id,
      email: values.email,
      phone: values.phone,
    });
    if (error) throw new AppError('invalid_input', error.details.map((d) => d.message).join('; '));
    const engine = await ctx.engine();
    const result = await engine.ingestEvents([value as EventInput]);
    if (result.rejected.length > 0) throw new AppError('unprocessable', result.rejected[0]!.reason);
    ctx.stdout.write(
      result.duplicates > 0
        ? 'already recorded (same event id); nothing changed\n'
        : `recorded; enrolled in ${result.enrolled}, exited ${result.exited}, converted ${result.converted}; ` +
            `first steps: ${result.queued} queued, ${result.suppressed} suppressed, ${result.failed} failed\n`,
    );
    return 0;
  },
};
