import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { BIN } from '../drills/lib/processes.ts';
import { FileTail } from '../drills/lib/smtp-record.ts';

/** A field of /proc/<pid>/status in megabytes (VmRSS now, VmHWM the peak so far), or undefined once the process is gone. */
export function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples the resident memory of some processes until stopped: the peak of each, and of their sum. */
export class RssSampler {
  peak = 0;
  peakSum = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(pids: () => number[], everyMs = 200) {
    const sample = () => {
      let sum = 0;
      for (const pid of pids()) {
        const rss = statusMb(pid, 'VmRSS') ?? 0;
        sum += rss;
        this.peak = Math.max(this.peak, rss);
      }
      this.peakSum = Math.max(this.peakSum, sum);
    };
    sample();
    this.timer = setInterval(sample, everyMs);
  }

  stop(): { peakMb: number; peakSumMb: number } {
    clearInterval(this.timer);
    return { peakMb: Math.round(this.peak), peakSumMb: Math.round(this.peakSum) };
  }
}

export interface Timed {
  seconds: number;
  /** Peak resident memory of the command's process (VmHWM, read until it exits). */
  peakRssMb: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a touchpoint CLI command as a user would (its own process, the deployment's environment),
 * timing it and following its peak resident memory; `nodeArgs` go before the CLI (--cpu-prof).
 */
export function timedCli(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; nodeArgs?: string[] }): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), BIN, ...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, statusMb(child.pid!, 'VmHWM') ?? 0)), 50);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout = (stdout + s).slice(-100_000)));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-100_000)));
    child.once('error', reject);
    // The last sample before exit: VmHWM is the high-water mark, so it is the peak up to then.
    child.once('exit', (code) => {
      clearInterval(timer);
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) reject(new Error(`touchpoint ${args.join(' ')} exited with ${code}:\n${stderr}${stdout}`));
      else resolve({ seconds, peakRssMb: Math.round(peak), stdout, stderr });
    });
  });
}

/**
 * The SMTP server's record file (scripts/drills/lib/smtp-server.ts), read incrementally without
 * keeping it: how many messages it accepted, and when the first and the last were accepted.
 */
export class AcceptedCount {
  accepted = 0;
  first: number | undefined;
  last: number | undefined;
  /** Recipients accepted since `mark(true)`: a second acceptance for one is a double send. */
  private recipients: Set<string> | undefined;
  duplicates = 0;
  private readonly tail: FileTail;

  constructor(file: string) {
    this.tail = new FileTail(file);
  }

  /** Reads what was appended since the last call. */
  update(): this {
    for (const line of this.tail.lines()) {
      if (!line.startsWith('{"event":"accepted"')) continue;
      const { at, to } = JSON.parse(line) as { at: number; to: string | null };
      if (this.recipients && to !== null) {
        if (this.recipients.has(to)) this.duplicates++;
        else this.recipients.add(to);
      }
      this.accepted++;
      this.first ??= at;
      this.last = at;
    }
    return this;
  }

  /** A fresh count from here on (the next phase of the benchmark), counting repeated recipients when `distinct`. */
  mark(distinct = false): void {
    this.update();
    this.recipients = distinct ? new Set() : undefined;
    this.duplicates = 0;
    this.accepted = 0;
    this.first = this.last = undefined;
  }
}
