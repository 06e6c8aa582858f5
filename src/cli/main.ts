import { loadConfig } from '../config.ts';
import { openEngine, type OpenEngine } from '../engine.ts';
import { AppError } from '../errors.ts';
import { describeError, setLogFormat, setLogLevel } from '../log.ts';
import type { CliContext, Command } from './command.ts';
import { commands } from './commands/index.ts';
import { boundHeapGrowth } from './heap.ts';

const EXIT = { ok: 0, problems: 1, usage: 2, failure: 3 } as const;

function usage(): string {
  return [
    'usage: touchpoint <command> [options]',
    '',
    ...commands.flatMap((c) => [`  ${c.usage}`, `      ${c.summary}`]),
    '',
    'Environment: see .env.example.',
  ].join('\n');
}

function findCommand(argv: string[]): { command: Command; args: string[] } | undefined {
  const matches = commands.filter((c) => c.name.every((word, i) => argv[i] === word)).sort((a, b) => b.name.length - a.name.length);
  const command = matches[0];
  return command && { command, args: argv.slice(command.name.length) };
}

export async function main(argv: string[]): Promise<number> {
  boundHeapGrowth();
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === 'help') {
    process.stdout.write(usage() + '\n');
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  const found = findCommand(argv);
  if (!found) {
    process.stderr.write(`touchpoint: unknown command '${argv.join(' ')}'\n\n${usage()}\n`);
    return EXIT.usage;
  }
  let opened: Promise<OpenEngine> | undefined;
  try {
    const config = loadConfig();
    setLogLevel(config.logLevel);
    setLogFormat(config.logFormat);
    const ctx: CliContext = {
      config,
      stdout: process.stdout,
      stderr: process.stderr,
      engine: async () => (await (opened ??= openEngine(config, { createDatabase: found.command.createsDatabase ?? false }))).engine,
    };
    return await found.command.run(found.args, ctx);
  } catch (err) {
    return reportError(err, found.command);
  } finally {
    if (opened) await (await opened.catch(() => undefined))?.close();
  }
}

function reportError(err: unknown, command: Command): number {
  if (err instanceof AppError) {
    process.stderr.write(`touchpoint: ${err.message}\n`);
    for (const detail of err.details) process.stderr.write(`  ${detail}\n`);
    if (err.code === 'invalid_input') {
      process.stderr.write(`usage: touchpoint ${command.usage}\n`);
      return EXIT.usage;
    }
    return err.code === 'invalid_campaign' ? EXIT.problems : EXIT.failure;
  }
  process.stderr.write(`touchpoint: unexpected error: ${describeError(err)}\n`);
  return EXIT.failure;
}
