import { KEY_CACHE_MS } from '../../access/keys.ts';
import { ROLES, type Role } from '../../access/schema.ts';
import { AppError } from '../../errors.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { formatInstant, formatTable } from '../table.ts';

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

export const keysListCommand: Command = {
  name: ['keys', 'list'],
  summary: 'list API keys (never the keys themselves): role, the user a key acts for, last use, revocation',
  usage: 'keys list',
  async run(args, ctx) {
    parseCommandArgs(args, {}, false);
    const keys = await (await ctx.engine()).access.listKeys();
    ctx.stdout.write(
      formatTable(
        ['id', 'name', 'role', 'user', 'prefix', 'created', 'last used', 'revoked'],
        keys.map((k) => [
          String(k.id),
          k.name,
          k.role,
          k.user ?? '-',
          `tp_${k.prefix}`,
          formatInstant(k.createdAt),
          formatInstant(k.lastUsedAt),
          formatInstant(k.revokedAt),
        ]),
      ) + '\n',
    );
    return 0;
  },
};

export const keysRevokeCommand: Command = {
  name: ['keys', 'revoke'],
  summary: 'revoke an API key for good, named by its id or its prefix (tp_…) from keys list',
  usage: 'keys revoke <id|prefix>',
  async run(args, ctx) {
    const { positionals } = parseCommandArgs(args, {});
    if (positionals.length !== 1) throw new AppError('invalid_input', 'keys revoke takes exactly one key id or prefix');
    const { id, revokedAt, already } = await (await ctx.engine()).access.revokeKey(positionals[0]!);
    ctx.stderr.write(
      already
        ? `API key ${id} was already revoked on ${formatInstant(revokedAt)}.\n`
        : `API key ${id} revoked; running servers refuse it within ${KEY_CACHE_MS / 1000} seconds.\n`,
    );
    return 0;
  },
};
