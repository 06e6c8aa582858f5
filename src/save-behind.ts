/**
 * Saves an import's batches one after another, behind its reader: a batch is saved while the next
 * is read, so the database and this process work side by side. A failed save does not stop the
 * ones after it from being tried (each runs in its own transaction); the first failure is what
 * `settle` throws.
 */
export class SaveBehind {
  private saving: Promise<void> = Promise.resolve();
  private failed = false;
  private failure: unknown;

  add(save: () => Promise<void>): void {
    this.saving = this.saving.then(save).catch((err: unknown) => {
      if (this.failed) return;
      this.failed = true;
      this.failure = err;
    });
  }

  /** Waits for every save added so far; throws the first failure. */
  async settle(): Promise<void> {
    await this.saving;
    if (this.failed) throw this.failure;
  }
}
