import { ROLES, type Role } from '../../access/schema.ts';
import { AppError } from '../../errors.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';

export const keysCreateCommand: Command = {
  name: ['keys', 'create'],
  summary: 'create an API key for a role; the key is shown once',
  usage: `keys create --role ${ROLES.join('|')} [--name <name>] [--user <email>] (service keys act for a --user)`,
  async run(args, ctx) {
    const { values } = parseCommandArgs(args, { role: { type: 'string' }, name: { type: 'string' }, user: { type: 'string' } }, false);
    const role = values.role as Role | undefined;
    if (!role || !ROLES.includes(role)) throw new AppError('invalid_input', `--role must be one of ${ROLES.join(', ')}`);
    const { key, id } = await (await ctx.engine()).access.createKey(role, values.name ?? `${role} key`, values.user);
    ctx.stdout.write(`${key}\n`);
    ctx.stderr.write(`API key ${id} (${role}) created. Store it now: it is not shown again.\n`);
    return 0;
  },
};
