// One run at a time: a caller arriving while a run is in flight gets that run's result
// instead of starting another (the sealer's passes, the alert engine's checks).
export class SingleFlight<T> {
  #running: Promise<T> | undefined;

  constructor(private readonly fn: () => Promise<T>) {}

  run(): Promise<T> {
    this.#running ??= this.fn().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Settles when the run in flight, if any, is over; never rejects. */
  async idle(): Promise<void> {
    await this.#running?.catch(() => undefined);
  }
}
