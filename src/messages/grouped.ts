/**
 * Runs calls in groups: the calls made while one group runs form the next, so concurrent callers
 * share round trips without waiting on a timer (a group commit, on the client's side). `run` gets
 * the group's inputs and returns an output for each, in order.
 */
export class Grouped<I, O> {
  private pending: { input: I; resolve: (output: O) => void; reject: (err: unknown) => void }[] = [];
  private running = false;

  constructor(private readonly run: (inputs: I[]) => Promise<O[]>) {}

  call(input: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.pending.push({ input, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.pending.length > 0) {
      const group = this.pending.splice(0);
      try {
        const outputs = await this.run(group.map((call) => call.input));
        group.forEach((call, i) => call.resolve(outputs[i]!));
      } catch (err) {
        for (const call of group) call.reject(err);
      }
    }
    this.running = false;
  }
}
