// The alert delivery worker: every poll interval (and at once after this process stored an
// alert) it claims due pending alerts under a lease, POSTs each to ALERT_WEBHOOK_URL signed
// the Standard Webhooks way, and records the outcome: delivered, due again after a backoff,
// or failed. The queue is the alerts table, so a restart loses nothing and several
// instances share it (a claim is one statement with SKIP LOCKED; a dead instance's lease
// runs out and any instance claims the row again). At most `concurrency` attempts are in
// flight per instance; the rest wait in the table. Closing aborts the attempts in flight
// and gives their claims back uncounted, so another instance (or the next start) sends them.
import { setMaxListeners } from 'node:events';
import type { Database } from '../db/database.js';
import {
  claimDueAlerts,
  recordAttempt,
  releaseAlertClaim,
  type AlertRow,
  type AttemptRecord,
  type ClaimedAlert,
} from '../db/repositories/alerts.js';
import {
  postWebhook,
  retryDelayMs,
  webhookDestination,
  webhookHeaders,
  webhookId,
  type WebhookSettings,
} from './webhook.js';

/** Attempts in flight at once per instance, by default. */
const CONCURRENCY = 8;
/** Standard Webhooks' suggestion for what the payload is. */
const ALERT_EVENT_TYPE = 'alert.raised';

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface AlertDeliverySettings {
  webhook: WebhookSettings;
  pollIntervalMs: number;
  /** Named in each payload, so a receiver serving several deployments can tell them apart. */
  issuer: string;
  dedupWindowSeconds: number;
}

/** For tests and tools; not settings. */
export interface AlertDeliveryOptions {
  /** The delay before the next attempt after `failures` failed ones (default: the Standard Webhooks-like schedule). */
  retryDelayMs?: (failures: number) => number;
  /** Attempts in flight at once in this instance. */
  concurrency?: number;
  fetchImpl?: typeof fetch;
}

/** The JSON body of an alert's webhook (and of its security_alert log line, without `type`). */
export function alertPayload(alert: AlertRow, settings: Pick<AlertDeliverySettings, 'issuer' | 'dedupWindowSeconds'>) {
  return {
    id: alert.id,
    rule: alert.rule,
    severity: alert.severity,
    summary: alert.summary,
    subject: alert.subject,
    count: alert.count,
    first_seen_at: alert.first_seen_at.toISOString(),
    last_seen_at: alert.last_seen_at.toISOString(),
    first_event_id: alert.first_event_id,
    last_event_id: alert.last_event_id,
    dedup_window_seconds: settings.dedupWindowSeconds,
    detail: alert.detail,
    issuer: settings.issuer,
  };
}

export class AlertDelivery {
  private timer: NodeJS.Timeout | undefined;
  private nudged = false;
  private readonly inFlight = new Map<number, Promise<void>>();
  /** The claiming loop, one at a time; `again` asks it for one more round. */
  private pumping: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private readonly closing = new AbortController();
  private readonly concurrency: number;
  private readonly delayAfter: (failures: number) => number;
  /** A claim outlives the attempt and the write of its outcome, so a live instance's row is never taken over. */
  readonly leaseSeconds: number;

  constructor(
    private readonly db: Database,
    private readonly settings: AlertDeliverySettings,
    private readonly log: Log,
    private readonly options: AlertDeliveryOptions = {},
  ) {
    this.concurrency = options.concurrency ?? CONCURRENCY;
    this.delayAfter = options.retryDelayMs ?? ((failures) => retryDelayMs(failures));
    this.leaseSeconds = Math.ceil(settings.webhook.timeoutMs / 1000) + 30;
    // Each attempt in flight listens for the close.
    setMaxListeners(this.concurrency * 2 + 10, this.closing.signal);
  }

  get configured(): boolean {
    return this.settings.webhook.url !== undefined;
  }

  start(): void {
    if (this.timer || this.closed || !this.configured) return;
    this.timer = setInterval(() => this.schedule(), this.settings.pollIntervalMs);
    this.timer.unref();
    this.schedule();
  }

  /** An alert was committed in this process: look now instead of at the next poll. */
  nudge(): void {
    if (this.closed || !this.timer || this.nudged) return;
    this.nudged = true;
    setImmediate(() => {
      this.nudged = false;
      this.schedule();
    });
  }

  /** Sends what is due now, and waits until those attempts (and the ones after them) are over. */
  async idle(): Promise<void> {
    if (!this.configured) return;
    for (;;) {
      await this.pump();
      if (this.inFlight.size === 0 || this.closed) break;
      await Promise.allSettled([...this.inFlight.values()]);
    }
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Stops claiming, aborts the attempts in flight and gives their claims back. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.closing.abort();
    await this.pumping?.catch(() => undefined);
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private schedule(): void {
    if (this.closed) return;
    this.pump().catch((error: unknown) => this.log.error({ err: error }, 'alert delivery pass failed'));
  }

  /** Claims due rows while slots are free; a call during a round joins it and asks for another. */
  private pump(): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return this.pumping;
    }
    const round = async () => {
      do {
        this.again = false;
        while (!this.closed) {
          const free = this.concurrency - this.inFlight.size;
          if (free <= 0) break;
          const rows = await claimDueAlerts(this.db, free, this.leaseSeconds);
          for (const row of rows) this.begin(row);
          if (rows.length < free) break;
        }
      } while (this.again && !this.closed);
    };
    this.pumping = round().finally(() => (this.pumping = undefined));
    return this.pumping;
  }

  private begin(row: ClaimedAlert): void {
    const attempt = this.attempt(row)
      .catch((error: unknown) =>
        // The outcome could not be written: the row stays claimed until its lease runs out, then is tried again.
        this.log.error({ err: error, alert_id: row.id }, 'alert delivery outcome not recorded'),
      )
      .finally(() => {
        this.inFlight.delete(row.id);
        this.schedule();
      });
    this.inFlight.set(row.id, attempt);
  }

  private async attempt(row: ClaimedAlert): Promise<void> {
    const { webhook } = this.settings;
    const claim = { id: row.id, token: row.claim_token };
    const id = webhookId(row.id, row.delivery_key);
    const body = JSON.stringify({ type: ALERT_EVENT_TYPE, ...alertPayload(row, this.settings) });
    const result = await postWebhook(webhook.url!, body, webhookHeaders(id, unixSeconds(), body, webhook.secret), {
      timeoutMs: webhook.timeoutMs,
      signal: this.closing.signal,
      fetchImpl: this.options.fetchImpl,
    });
    if (result.kind === 'aborted') {
      await releaseAlertClaim(this.db, claim);
      return;
    }
    const attempts = row.delivery_attempts + 1;
    let outcome: AttemptRecord;
    if (result.kind === 'delivered') outcome = { outcome: 'delivered' };
    else if (result.kind === 'retryable' && attempts <= webhook.retries)
      outcome = { outcome: 'retry', error: result.error, delayMs: this.delayAfter(attempts) };
    else outcome = { outcome: 'failed', error: result.error };
    if (!(await recordAttempt(this.db, claim, outcome))) return;

    const detail = { alert_id: row.id, webhook_id: id, attempts, destination: webhookDestination(webhook.url!) };
    if (outcome.outcome === 'delivered') this.log.info({ event: 'alert_delivered', ...detail }, 'alert delivered');
    else if (outcome.outcome === 'retry')
      this.log.warn(
        { event: 'alert_delivery_retry', ...detail, error: outcome.error, retry_in_ms: outcome.delayMs },
        'alert webhook delivery failed; will retry',
      );
    else
      this.log.warn(
        { event: 'alert_delivery_failed', ...detail, error: outcome.error },
        'alert webhook delivery failed',
      );
  }
}

const unixSeconds = () => Math.floor(Date.now() / 1000);
