// POSTs alerts as JSON to ALERT_WEBHOOK_URL in the background: a timeout per attempt,
// bounded retries with backoff, a bounded number in flight. Nothing waits on it; closing
// aborts what is still going. The URL is never logged (webhook URLs often embed a secret).
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

export interface WebhookSettings {
  url: string | undefined;
  timeoutMs: number;
  /** Attempts after the first. */
  retries: number;
  /** Deliveries in flight at once; past that an alert is stored but not sent. */
  maxInFlight: number;
}

export interface DeliveryOutcome {
  delivered: boolean;
  attempts: number;
  error?: string;
}

interface Log {
  warn(obj: object, msg: string): void;
}

/** Backoff before attempt n+1: 250 ms, doubling, at most 5 s. */
export const retryDelayMs = (attempt: number) => Math.min(5000, 250 * 2 ** (attempt - 1));

function describe(error: unknown): string {
  const e = error as { name?: string; cause?: { code?: string } };
  if (e?.name === 'TimeoutError') return 'timeout';
  if (e?.name === 'AbortError') return 'aborted';
  return e?.cause?.code ?? e?.name ?? 'error';
}

export class WebhookDispatcher {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly closing = new AbortController();

  constructor(
    private readonly settings: WebhookSettings,
    private readonly onOutcome: (id: number, outcome: DeliveryOutcome) => Promise<void> | void,
    private readonly log: Log,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    // Each delivery in flight listens for the close.
    setMaxListeners(settings.maxInFlight * 2 + 10, this.closing.signal);
  }

  get configured(): boolean {
    return this.settings.url !== undefined;
  }

  /** Where alerts go, without path or credentials, for logs. */
  get destination(): string | undefined {
    if (!this.settings.url) return undefined;
    try {
      return new URL(this.settings.url).origin;
    } catch {
      return 'invalid';
    }
  }

  /** Starts a delivery and returns at once. */
  send(id: number, payload: object): void {
    if (!this.settings.url || this.closing.signal.aborted) return;
    if (this.inFlight.size >= this.settings.maxInFlight) {
      this.log.warn(
        { event: 'alert_delivery_dropped', alert_id: id, in_flight: this.inFlight.size },
        'alert webhook busy; alert stored, not sent',
      );
      void this.report(id, { delivered: false, attempts: 0, error: 'too many deliveries in flight' });
      return;
    }
    const delivery: Promise<void> = this.deliver(id, this.settings.url, JSON.stringify(payload))
      .catch(() => undefined)
      .finally(() => this.inFlight.delete(delivery));
    this.inFlight.add(delivery);
  }

  /** Deliveries not finished yet (tests wait on these). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  /** Aborts every delivery still going; their outcome is recorded as failed. */
  async close(): Promise<void> {
    this.closing.abort();
    await this.idle();
  }

  private async deliver(id: number, url: string, body: string): Promise<void> {
    let attempts = 0;
    let error = '';
    while (attempts <= this.settings.retries && !this.closing.signal.aborted) {
      attempts++;
      try {
        const response = await this.fetchImpl(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'tessera-alerts' },
          body,
          redirect: 'manual',
          signal: AbortSignal.any([AbortSignal.timeout(this.settings.timeoutMs), this.closing.signal]),
        });
        await response.body?.cancel().catch(() => undefined);
        if (response.ok) return this.report(id, { delivered: true, attempts });
        error = `HTTP ${response.status}`;
        // A refusal other than overload will not change on retry.
        if (response.status < 500 && response.status !== 408 && response.status !== 429) break;
      } catch (caught) {
        error = describe(caught);
      }
      if (attempts <= this.settings.retries)
        await sleep(retryDelayMs(attempts), undefined, { signal: this.closing.signal, ref: false }).catch(
          () => undefined,
        );
    }
    if (this.closing.signal.aborted && !error) error = 'aborted';
    this.log.warn(
      { event: 'alert_delivery_failed', alert_id: id, attempts, error, destination: this.destination },
      'alert webhook delivery failed',
    );
    return this.report(id, { delivered: false, attempts, error });
  }

  private async report(id: number, outcome: DeliveryOutcome): Promise<void> {
    try {
      await this.onOutcome(id, outcome);
    } catch {
      // The alert itself is stored and logged; its delivery status is best effort.
    }
  }
}
