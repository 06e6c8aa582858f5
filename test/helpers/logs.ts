import { setLogFormat, setLogLevel, type LogFormat, type LogLevel } from '../../src/log.ts';

/** One log line as written, and what it says when read back as JSON. */
export interface LogLine {
  text: string;
  json: Record<string, unknown>;
}

/**
 * The log lines (src/log.ts writes to stderr) written while `act` runs, at `level` (info) in
 * `format` (JSON); the test's own level and format come back after.
 */
export async function captureLog(
  act: () => Promise<unknown>,
  options: { level?: LogLevel; format?: Exclude<LogFormat, 'auto'> } = {},
): Promise<string[]> {
  const written: string[] = [];
  const original = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => written.push(String(chunk)) > 0) as typeof process.stderr.write;
  setLogLevel(options.level ?? 'info');
  setLogFormat(options.format ?? 'json');
  try {
    await act();
  } finally {
    process.stderr.write = original;
    setLogLevel((process.env.TEST_LOG_LEVEL as LogLevel | undefined) ?? 'error');
    setLogFormat((process.env.LOG_FORMAT as LogFormat | undefined) ?? 'auto');
  }
  return written.join('').split('\n').slice(0, -1);
}

/** The JSON lines written while `act` runs, each parsed (a line that is not one JSON object fails the test). */
export async function captureJsonLog(act: () => Promise<unknown>, level: LogLevel = 'info'): Promise<LogLine[]> {
  return (await captureLog(act, { level })).map((text) => ({ text, json: JSON.parse(text) as Record<string, unknown> }));
}
