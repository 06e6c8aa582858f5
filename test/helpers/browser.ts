import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/** Where browser tests leave what a person may want to look at after a run (screenshots); CI may collect it. */
export const ARTIFACTS_DIR = path.resolve(process.env.TEST_ARTIFACTS_DIR || 'var/test-artifacts');

/**
 * Debian's Chromium driven by playwright-core. Locally a missing browser skips the browser tests
 * with a clear line; in CI (CI=true, where .ci/run installs it) it is an error.
 */
export async function launchBrowser(ctx: Mocha.Context): Promise<Browser | undefined> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    if (process.env.CI === 'true') throw new Error(`no Chromium at ${CHROMIUM_PATH}; .ci/run installs Debian's chromium`);
    console.log(`    (browser tests skipped: no Chromium at ${CHROMIUM_PATH}; apt-get install chromium or set CHROMIUM_PATH)`);
    ctx.skip();
  }
  // As root Chromium refuses its sandbox; the tests load only our own local pages.
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** Launches the browser once for the enclosing `describe` and closes it after; call the result for it. */
export function useBrowser(): () => Browser {
  let browser: Browser | undefined;
  before(async function () {
    browser = await launchBrowser(this);
  });
  after(async () => {
    await browser?.close();
  });
  return () => browser!;
}

/** Fills in the sign-in form the page shows, submits it, and waits until the browser lands on `landing`. */
export async function submitSignIn(page: Page, email: string, password: string, landing: string): Promise<void> {
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  await page.waitForURL(landing);
}
