import readline from 'node:readline';
import { ROLES, type Role } from '../../access/schema.ts';
import { MIN_PASSWORD } from '../../access/users.ts';
import { AppError } from '../../errors.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { formatTable } from '../table.ts';

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
  summary: 'create or update a web UI user; the password is read from stdin or asked for',
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
      `${created ? 'Created' : 'Updated'} ${user.role} user ${user.email}${languages.length ? ` (${languages.join(', ')})` : ''}.\n`,
    );
    return 0;
  },
};

export const usersListCommand: Command = {
  name: ['users', 'list'],
  summary: 'list web UI users',
  usage: 'users list',
  async run(args, ctx) {
    parseCommandArgs(args, {}, false);
    const users = await (await ctx.engine()).access.listUsers();
    ctx.stdout.write(
      formatTable(
        ['email', 'name', 'role', 'languages', 'available'],
        users.map((u) => [u.email, u.name, u.role, u.languages.join(','), u.available ? 'yes' : 'no']),
      ) + '\n',
    );
    return 0;
  },
};
