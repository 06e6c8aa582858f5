import { log } from '../log.ts';

/**
 * Resolves on the first SIGINT or SIGTERM, so that the caller can stop in order; from then on a
 * second one of either exits at once (130 after SIGINT, 143 after SIGTERM), for an operator who
 * cannot wait: what is in flight is then left to other processes, as after a crash.
 */
export function untilSignal(): { promise: Promise<NodeJS.Signals>; dispose(): void } {
  let onSignal: (signal: NodeJS.Signals) => void = () => {};
  const dispose = () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
  const promise = new Promise<NodeJS.Signals>((resolve) => {
    onSignal = (signal) => {
      dispose();
      const force = (again: NodeJS.Signals) => {
        log.warn(`${again} while stopping: exiting at once`);
        process.exit(again === 'SIGINT' ? 130 : 143);
      };
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
      resolve(signal);
    };
  });
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return { promise, dispose };
}
