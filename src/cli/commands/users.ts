import readline from 'node:readline';
import { ROLES, type Role } from '../../access/schema.ts';
import { KEY_CACHE_MS } from '../../access/keys.ts';
import { MIN_PASSWORD } from '../../access/users.ts';
import { AppError } from '../../errors.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { formatInstant, formatTable } from '../table.ts';

/** A password from a pipe (scripts, CI), or typed twice at a terminal without echo. */
async function readPassword(stderr: NodeJS.WriteStream): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  const ask = (question: string) =>
    new Promise<string>((resolve) => {
      const rl = readline.createInterface({ input: process.stdin, output: stderr, terminal: true });
      // Echo nothing of what is typed.
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
        if (s.includes(question)) stderr.write(question);
      };
      rl.question(question, (answer) => {
        rl.close();
        stderr.write('\n');
        resolve(answer);
      });
    });
  const first = await ask(`Password (at least ${MIN_PASSWORD} characters): `);
  const second = await ask('Again: ');
  if (first !== second) throw new AppError('invalid_input', 'the two passwords differ');
  return first;
}

export const usersAddCommand: Command = {
  name: ['users', 'add'],
  summary: 'create or update a web UI user (updating signs them out everywhere); the password is read from stdin or asked for',
  usage: `users add <email> --role ${ROLES.join('|')} [--name <name>] [--languages en,de]`,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      role: { type: 'string' },
      name: { type: 'string' },
      languages: { type: 'string' },
    });
    const [email] = positionals;
    const role = values.role as Role | undefined;
    if (!email || positionals.length > 1) throw new AppError('invalid_input', 'users add takes exactly one email address');
    if (!role || !ROLES.includes(role)) throw new AppError('invalid_input', `--role must be one of ${ROLES.join(', ')}`);
    const languages = (values.languages ?? '')
      .split(',')
      .map((l) => l.trim().toLowerCase())
      .filter(Boolean);
    const bad = languages.find((l) => !/^[a-z]{2,3}$/.test(l));
    if (bad) throw new AppError('invalid_input', `--languages takes language codes like en,de; got '${bad}'`);
    const password = await readPassword(ctx.stderr);
    const engine = await ctx.engine();
    const { user, created } = await engine.access.saveUser({ email, role, name: values.name, password, languages });
    ctx.stderr.write(
      `${created ? 'Created' : 'Updated'} ${user.role} user ${user.email}${languages.length ? ` (${languages.join(', ')})` : ''}${created ? '' : '; their sessions are ended'}.\n`,
    );
    return 0;
  },
};

export const usersListCommand: Command = {
  name: ['users', 'list'],
  summary: 'list web UI users, disabled ones included',
  usage: 'users list',
  async run(args, ctx) {
    parseCommandArgs(args, {}, false);
    const users = await (await ctx.engine()).access.listUsers(undefined, true);
    ctx.stdout.write(
      formatTable(
        ['email', 'name', 'role', 'languages', 'available', 'notify', 'disabled'],
        users.map((u) => [
          u.email,
          u.name,
          u.role,
          u.languages.join(','),
          u.available ? 'yes' : 'no',
          u.notify ? 'yes' : 'no',
          formatInstant(u.disabledAt),
        ]),
      ) + '\n',
    );
    return 0;
  },
};

/** The one email address `users disable|enable` take. */
function oneEmail(args: string[], command: string): string {
  const { positionals } = parseCommandArgs(args, {});
  if (positionals.length !== 1) throw new AppError('invalid_input', `users ${command} takes exactly one email address`);
  return positionals[0]!;
}

export const usersDisableCommand: Command = {
  name: ['users', 'disable'],
  summary: 'disable a user: ends their sessions, refuses their password, stops the API keys acting for them',
  usage: 'users disable <email>',
  async run(args, ctx) {
    const email = oneEmail(args, 'disable');
    const result = await (await ctx.engine()).access.disableUser(email);
    ctx.stderr.write(
      result.already
        ? `${email} was already disabled (since ${formatInstant(result.disabledAt)}).\n`
        : `Disabled ${email}: ${result.sessions} session(s) ended; ${result.keys} API key(s) acting for them stop working (in running servers within ${KEY_CACHE_MS / 1000} seconds).\n`,
    );
    return 0;
  },
};

export const usersEnableCommand: Command = {
  name: ['users', 'enable'],
  summary: 'enable a disabled user again (same password; their unrevoked keys work again)',
  usage: 'users enable <email>',
  async run(args, ctx) {
    const email = oneEmail(args, 'enable');
    const { already } = await (await ctx.engine()).access.enableUser(email);
    ctx.stderr.write(already ? `${email} is not disabled.\n` : `Enabled ${email}; they can sign in again.\n`);
    return 0;
  },
};

export const usersNotifyCommand: Command = {
  name: ['users', 'notify'],
  summary: 'turn a person’s notification emails (contacts assigned or escalated to them) on or off',
  usage: 'users notify <email> on|off',
  async run(args, ctx) {
    const { positionals } = parseCommandArgs(args, {});
    const [email, setting] = positionals;
    if (!email || positionals.length !== 2 || (setting !== 'on' && setting !== 'off'))
      throw new AppError('invalid_input', 'users notify takes an email address and on or off');
    await (await ctx.engine()).access.setNotify(email, setting === 'on');
    ctx.stderr.write(`Notification emails are ${setting} for ${email}.\n`);
    return 0;
  },
};
