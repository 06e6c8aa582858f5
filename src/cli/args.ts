import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AppError } from '../errors.ts';

/** node:util parseArgs, with its errors turned into usage errors the CLI shell reports. */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (cause) {
    throw new AppError('invalid_input', (cause as Error).message, { cause });
  }
}
