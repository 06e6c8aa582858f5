import fs from 'node:fs';
import path from 'node:path';
import type { Clock } from '../clock.ts';
import { errorMessage } from '../errors.ts';
import { INBOUND_FILE } from '../inbound/rules.ts';
import { log } from '../log.ts';
import { formatProblem, type Problem } from '../yaml/problems.ts';
import { loadCampaignSet, PERSONAS_FILE, type LoadOptions } from './load.ts';
import type { CampaignSet } from './set.ts';

/**
 * The campaign files a running engine works with. Requests, replies and jobs read the set last
 * loaded and never a file: files are looked at in the background, and read again only when one
 * of them (or a template) changed, so edits take effect within seconds without a restart, and
 * neither a big file nor a broken one is ever parsed on a request's path.
 *
 * A file that turns bad does not take down what it held: its last good version stays in use
 * (a campaign, personas.yaml, inbound.yaml), the log says so once, and the set's problems carry
 * a warning beside the file's errors until it is fixed. Only a process that started with a file
 * already broken has no good version of it to keep.
 */
export interface LiveCampaigns {
  /** The set as last loaded. */
  current(): CampaignSet;
  /** Stops looking at the files. */
  stop(): void;
}

/** How often the files are looked at (a stat of each; they are read only when one changed). */
const RELOAD_MS = 2_000;

export function liveCampaigns(options: LoadOptions, clock: Clock): LiveCampaigns {
  let seen = fingerprint(options);
  let set = loadCampaignSet(options);
  /** When each file was last loaded without errors. */
  const goodSince = new Map<string, Date>();
  noteGood(set, options.campaignsDir, goodSince, clock.now());

  /** Reloads when a file changed since the last look. */
  function refresh(): void {
    const now = fingerprint(options);
    if (now === seen) return;
    seen = now;
    const fresh = loadCampaignSet(options);
    noteGood(fresh, options.campaignsDir, goodSince, clock.now());
    const next = keepLastGood(set, fresh, options.campaignsDir, goodSince);
    report(set, next);
    set = next;
  }

  const timer = setInterval(() => {
    try {
      refresh();
    } catch (err) {
      // Not expected (a load turns every failure into a problem), but a timer must not throw.
      log.error('campaign files could not be reloaded; the loaded ones stay in use until the files change again', {
        error: errorMessage(err),
      });
    }
  }, RELOAD_MS);
  timer.unref();
  return { current: () => set, stop: () => clearInterval(timer) };
}

/** Names, sizes and modification times of the campaign files and templates: what a change changes. */
function fingerprint(options: LoadOptions): string {
  return [options.campaignsDir, options.templatesDir]
    .map((dir) => {
      try {
        return fs
          .readdirSync(dir, { recursive: true })
          .map(String)
          .sort()
          .map((name) => {
            const stat = fs.statSync(path.join(dir, name), { throwIfNoEntry: false });
            return `${name}:${stat?.size}:${stat?.mtimeMs}`;
          })
          .join('|');
      } catch (err) {
        return `unreadable:${errorMessage(err)}`;
      }
    })
    .join('\n');
}

const hasErrors = (set: CampaignSet, file: string) => set.problems.some((p) => p.file === file && p.severity === 'error');

/** The files of the campaigns folder that are not campaigns, but sets of their own. */
const sharedFiles = (campaignsDir: string) => [PERSONAS_FILE, INBOUND_FILE].map((name) => path.join(campaignsDir, name));

/** Notes the time for every file of the set that loaded without errors. */
function noteGood(set: CampaignSet, campaignsDir: string, goodSince: Map<string, Date>, at: Date): void {
  const files = [...[...set.campaigns.values()].map((c) => c.file), ...sharedFiles(campaignsDir).filter((f) => fs.existsSync(f))];
  for (const file of files) if (!hasErrors(set, file)) goodSince.set(file, at);
}

/**
 * The fresh set, where each file with errors that was good before is replaced by its version in the
 * previous set (the last good one, since that set was made the same way), with a warning saying so.
 */
function keepLastGood(previous: CampaignSet, fresh: CampaignSet, campaignsDir: string, goodSince: Map<string, Date>): CampaignSet {
  const next: CampaignSet = { ...fresh, campaigns: new Map(fresh.campaigns), problems: [...fresh.problems] };
  const kept = new Set<string>();
  for (const campaign of previous.campaigns.values()) {
    if (!hasErrors(fresh, campaign.file) || next.campaigns.has(campaign.id)) continue;
    next.campaigns.set(campaign.id, campaign);
    kept.add(campaign.file);
  }
  const [personasFile, inboundFile] = sharedFiles(campaignsDir) as [string, string];
  if (hasErrors(fresh, personasFile) && goodSince.has(personasFile)) {
    next.personas = previous.personas;
    kept.add(personasFile);
  }
  if (hasErrors(fresh, inboundFile) && goodSince.has(inboundFile)) {
    next.inbound = previous.inbound;
    kept.add(inboundFile);
  }
  for (const file of kept) {
    next.problems.push({
      file,
      line: 1,
      col: 1,
      severity: 'warning',
      message: `the engine keeps using the last good version of this file (loaded ${goodSince.get(file)!.toISOString()}) until its errors are fixed`,
    });
  }
  next.problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
  return next;
}

/** Logs what a reload changed: new problems, and files whose last good version is kept. */
function report(previous: CampaignSet, next: CampaignSet): void {
  const before = new Set(previous.problems.map((p) => formatProblem(p)));
  const added: Problem[] = next.problems.filter((p) => !before.has(formatProblem(p)));
  for (const problem of added) log.warn(`campaign problem: ${formatProblem(problem)}`);
  log.info('campaign files reloaded', {
    campaigns: next.campaigns.size,
    personas: next.personas.length,
    problems: next.problems.length,
  });
}
