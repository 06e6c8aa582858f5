import type { Config } from '../config.ts';
import type { Database } from '../db/index.ts';

/** What every CLI command gets: config, output streams, and the database on demand. */
export interface CliContext {
  config: Config;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Opens (once) the engine's database; closed by the CLI shell when the command ends. */
  database(): Promise<Database>;
}

export interface Command {
  /** Words that select it, e.g. `['leads', 'import']`. */
  name: string[];
  summary: string;
  usage: string;
  /** Resolves to the process exit code. */
  run(args: string[], ctx: CliContext): Promise<number>;
}
