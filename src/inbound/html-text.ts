import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { errorMessage } from '../errors.ts';
import { log } from '../log.ts';

/**
 * The text of an HTML-only mail. html-to-text is synchronous and its cost grows with the markup
 * (8 MB of it held the event loop for seconds), so it runs in a thread of its own, on at most
 * HTML_LIMITS.chars of the HTML (a reply's own words come first), within a time budget; past the
 * budget, or if it fails, the text comes from dropping the tags instead.
 */
export const HTML_LIMITS = {
  /** HTML past this many characters is not converted. */
  chars: 1_000_000,
  /** A conversion taking longer is abandoned. */
  budgetMs: 2_000,
  /** Conversions running at once; more wait for a free thread. */
  parallel: 2,
} as const;

const CONVERTER = createRequire(import.meta.url).resolve('html-to-text');
/** Plain JavaScript: the thread needs no TypeScript loader, and loads only the converter. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { convert } = require(workerData.converter);
parentPort.postMessage(convert(workerData.html, { wordwrap: false }));
`;

let running = 0;
const waiting: (() => void)[] = [];

async function inTurn<T>(work: () => Promise<T>): Promise<T> {
  if (running < HTML_LIMITS.parallel) running++;
  else await new Promise<void>((resolve) => waiting.push(resolve));
  try {
    return await work();
  } finally {
    // A freed thread goes straight to the next in line, so no newcomer can slip past the limit.
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

function convertInThread(html: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, {
      eval: true,
      execArgv: [],
      workerData: { converter: CONVERTER, html },
      resourceLimits: { maxOldGenerationSizeMb: 256 },
    });
    const timer = setTimeout(() => {
      reject(new Error(`took longer than ${HTML_LIMITS.budgetMs} ms`));
      void worker.terminate();
    }, HTML_LIMITS.budgetMs);
    worker.once('message', (text: string) => {
      clearTimeout(timer);
      resolve(text);
      void worker.terminate();
    });
    worker.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    // Settles nothing after a message or an error; covers a thread that stops without either.
    worker.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the converter stopped (exit code ${code})`));
    });
  });
}

/** Tags dropped, in one linear pass: `[^<>]*` stops at the next `<`, so no input makes it backtrack. */
function withoutTags(html: string): string {
  return html
    .replace(/<[^<>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The text of an HTML body, converted in a thread of its own within the limits above. */
export async function htmlToText(html: string): Promise<string> {
  const capped = html.slice(0, HTML_LIMITS.chars);
  try {
    return await inTurn(() => convertInThread(capped));
  } catch (err) {
    log.warn('HTML of an inbound mail not converted; its tags are dropped instead', { error: errorMessage(err) });
    return withoutTags(capped);
  }
}
