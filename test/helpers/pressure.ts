import { monitorEventLoopDelay } from 'node:perf_hooks';
import { expect } from 'chai';
import { rawRequest } from './web.ts';

/** What an attack did to this process (the app under test runs in it). */
export interface Pressure<T> {
  result: T;
  /** The longest the event loop was held, in ms (perf_hooks, 10 ms resolution). */
  maxDelayMs: number;
  /** The slowest /healthz answer while the attack ran, in ms; and every status it gave. */
  healthzWorstMs: number;
  healthzStatuses: number[];
  /** How far the resident set grew above where it started, in MB (sampled every 20 ms, and at the end). */
  rssGrowthMb: number;
}

/**
 * Runs `attack` while watching the process: the event loop's longest stall, the slowest
 * /healthz answer (asked every 25 ms, each on a connection of its own), and the growth of
 * resident memory. The attack's own client should send prepared buffers (rawRequest, rawSmtp),
 * so that what is measured is the server's work.
 */
export async function underAttack<T>(base: string, attack: () => Promise<T>): Promise<Pressure<T>> {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  const rssBefore = process.memoryUsage.rss();
  let rssPeak = rssBefore;
  const sample = () => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss()));
  const sampler = setInterval(sample, 20);
  let healthzWorstMs = 0;
  const healthzStatuses: number[] = [];
  let running = true;
  const poller = (async () => {
    while (running) {
      const started = performance.now();
      healthzStatuses.push((await rawRequest(`${base}/healthz`)).status);
      healthzWorstMs = Math.max(healthzWorstMs, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  delay.enable();
  let result: T;
  try {
    result = await attack();
  } finally {
    delay.disable();
    clearInterval(sampler);
    running = false;
    await poller;
  }
  return {
    result,
    maxDelayMs: Math.round(delay.max / 1e6),
    healthzWorstMs: Math.round(healthzWorstMs),
    healthzStatuses,
    rssGrowthMb: Math.round((sample() - rssBefore) / 2 ** 20),
  };
}

/**
 * The app stayed responsive: the event loop was never held for half a second and /healthz always
 * answered 200 within a second. The attacks this guards against held the loop for 1.3 to 11 s and
 * /healthz for 1.6 to 6 s; the margins absorb what is not the attack: a major GC of the heap the
 * whole suite shares, and a busy two-core machine.
 */
export function expectResponsive(pressure: Pressure<unknown>): void {
  expect(pressure.maxDelayMs, 'longest event loop delay (ms)').to.be.below(500);
  expect(pressure.healthzWorstMs, 'slowest /healthz (ms)').to.be.below(1000);
  expect(pressure.healthzStatuses.length, '/healthz answers').to.be.above(0);
  expect(
    pressure.healthzStatuses.every((s) => s === 200),
    `/healthz statuses ${pressure.healthzStatuses.join(',')}`,
  ).to.equal(true);
}
