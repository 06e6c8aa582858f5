/**
 * Delay before the next try after `failures` failed ones: doubling from `baseMs`, at most `capMs`,
 * with jitter in its upper half so that many waiters do not come back in step.
 */
export function backoff(failures: number, baseMs: number, capMs: number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling * (0.5 + Math.random() * 0.5));
}
