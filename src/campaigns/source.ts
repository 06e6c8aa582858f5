import fs from 'node:fs';
import { AppError } from '../errors.ts';
import type { Problem } from '../yaml/problems.ts';
import type { CampaignSet } from './set.ts';

/** A campaign file as its page shows it: its lines, each with the problems found at it. */
export interface CampaignSource {
  file: string;
  /** Null when the file is over the size limit (it is not read; its problem says so). */
  lines: { number: number; text: string; problems: Problem[] }[] | null;
  /** Every problem of the file, in file order; those past its last line too. */
  problems: Problem[];
}

/**
 * The file that declares campaign `id` (loaded or broken) with its problems placed at their lines
 * (the set's, and `warnings` found beside loading), read within the same size limit as loading. A
 * campaign no file declares is not found.
 */
export function campaignSource(set: CampaignSet, id: string, maxFileBytes: number, warnings: readonly Problem[] = []): CampaignSource {
  const file = set.files.get(id);
  if (!file) throw new AppError('not_found', `no campaign '${id}'`);
  const problems = [...set.problems, ...warnings].filter((p) => p.file === file).sort((a, b) => a.line - b.line || a.col - b.col);
  let text: string;
  try {
    if (fs.statSync(file).size > maxFileBytes) return { file, lines: null, problems };
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    // Removed since the set was loaded (it is reloaded in the background): its problems still say what was wrong.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { file, lines: null, problems };
    throw err;
  }
  const lines = text.replace(/\r?\n$/, '').split(/\r?\n/);
  return {
    file,
    lines: lines.map((line, i) => ({ number: i + 1, text: line, problems: problems.filter((p) => p.line === i + 1) })),
    problems,
  };
}
