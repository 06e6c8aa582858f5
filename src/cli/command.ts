import type { Config } from '../config.ts';
import type { Engine } from '../engine.ts';

/** What every CLI command gets: config, output streams, and the engine on demand. */
export interface CliContext {
  config: Config;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Opens (once) the engine on the configured database; the CLI shell closes both when the command ends. */
  engine(): Promise<Engine>;
}

export interface Command {
  /** Words that select it, e.g. `['leads', 'import']`. */
  name: string[];
  summary: string;
  usage: string;
  /**
   * Whether the command may create the embedded database when the data directory holds none
   * (`serve`, `worker`, and those that bring the first data in). Any other refuses and says where
   * it looked, rather than answer from a new empty database.
   */
  createsDatabase?: boolean;
  /** Resolves to the process exit code. */
  run(args: string[], ctx: CliContext): Promise<number>;
}
