/**
 * Runs at most `limit` tasks at once and lets the rest wait, taking turns by key: when a place
 * frees, the key that has waited longest goes next and then queues behind the other keys. A burst
 * under one key (one client address) can take the free places only while nobody else waits, so it
 * delays anyone else's task by at most one turn per other waiting key, never by the whole burst.
 */
export function takingTurns(limit: number) {
  let running = 0;
  /** Waiting tasks by key; a Map keeps insertion order, which is the order of turns. */
  const waiting = new Map<string, (() => void)[]>();

  function next(): void {
    const [key, queue] = waiting.entries().next().value ?? [];
    if (key === undefined || !queue) {
      running--;
      return;
    }
    waiting.delete(key);
    const start = queue.shift()!;
    if (queue.length > 0) waiting.set(key, queue);
    start();
  }

  return async function run<T>(key: string, task: () => Promise<T>): Promise<T> {
    if (running < limit) running++;
    else
      await new Promise<void>((resolve) => {
        const queue = waiting.get(key);
        if (queue) queue.push(resolve);
        else waiting.set(key, [resolve]);
      });
    try {
      return await task();
    } finally {
      // The place passes straight to the next task, so `running` never counts a free place.
      next();
    }
  };
}
