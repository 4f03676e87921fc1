// A minimal promise-chain mutex: callers run one after another, in arrival order.
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;

  /** Callers holding or waiting for the mutex (for metrics). */
  get pending(): number {
    return this.queued;
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    this.queued++;
    const result = this.tail.then(fn, fn).finally(() => this.queued--);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
