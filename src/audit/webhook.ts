// One webhook attempt, Standard Webhooks style (https://www.standardwebhooks.com): the
// webhook-id / webhook-timestamp / webhook-signature headers, `v1,` HMAC-SHA256 signatures
// over `{id}.{timestamp}.{body}`, the retry schedule, and what a response means (2xx
// delivered; 3xx and 4xx other than 408/429 final; the rest retried). Redirects are never
// followed. The URL is never logged (webhook URLs often embed a secret), nor the key.
import { createHmac } from 'node:crypto';

export interface WebhookSettings {
  url: string | undefined;
  /** The signing key (ALERT_WEBHOOK_SECRET's bytes after "whsec_", decoded); unset: unsigned. */
  secret: Buffer | undefined;
  timeoutMs: number;
  /** Attempts after the first. */
  retries: number;
}

/** How one attempt went. `aborted`: the caller's signal (closing) cut it; it says nothing about the receiver. */
export type AttemptResult =
  | { kind: 'delivered'; status: number }
  | { kind: 'retryable'; error: string }
  | { kind: 'final'; error: string }
  | { kind: 'aborted' };

/**
 * The webhook-id of an alert: the same on every attempt, and unique beyond this database
 * (the key is random per alert), so receivers dedupe by it. No `.` (it is signed text).
 */
export const webhookId = (alertId: number, deliveryKey: string) =>
  `alert_${alertId}_${deliveryKey.replaceAll('-', '')}`;

/** `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the key. */
export function signWebhook(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** The request's headers for one attempt at `timestamp` (unix seconds); signed when there is a key. */
export function webhookHeaders(
  id: string,
  timestamp: number,
  body: string,
  key: Buffer | undefined,
): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'tessera-alerts',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    ...(key ? { 'webhook-signature': signWebhook(key, id, timestamp, body) } : {}),
  };
}

/** Seconds before attempt n+2 after n+1 failures, as Standard Webhooks suggests; the last one repeats. */
const RETRY_SCHEDULE_SECONDS = [5, 30, 120, 600, 1800, 3600, 7200, 18_000, 36_000] as const;

/**
 * The delay after `failures` failed attempts (at least one), with up to 10 % jitter so
 * receivers recovering from an outage are not hit by every retry at once.
 */
export function retryDelayMs(failures: number, random: () => number = Math.random): number {
  const index = Math.min(Math.max(failures, 1), RETRY_SCHEDULE_SECONDS.length) - 1;
  return Math.round(RETRY_SCHEDULE_SECONDS[index]! * 1000 * (1 + 0.1 * random()));
}

/** Where alerts go, without path or credentials, for logs. */
export function webhookDestination(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'invalid';
  }
}

/** A short reason for delivery_error and the log: never the URL or a message quoting it. */
function describe(error: unknown): string {
  const e = error as { name?: string; cause?: { code?: unknown } } | null;
  if (e?.name === 'TimeoutError') return 'timeout';
  const code = e?.cause?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,47}$/.test(code) ? code : 'network error';
}

/**
 * POSTs the body once, within `timeoutMs` (response headers; the body is not read), and
 * says what that means for the delivery.
 */
export async function postWebhook(
  url: string,
  body: string,
  headers: Record<string, string>,
  options: { timeoutMs: number; signal: AbortSignal; fetchImpl?: typeof fetch },
): Promise<AttemptResult> {
  if (options.signal.aborted) return { kind: 'aborted' };
  try {
    const response = await (options.fetchImpl ?? fetch)(url, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(options.timeoutMs), options.signal]),
    });
    await response.body?.cancel().catch(() => undefined);
    const { status } = response;
    if (status >= 200 && status < 300) return { kind: 'delivered', status };
    // A redirect is not followed (point the setting at the final URL), and a refusal
    // other than timeout or overload will not change on retry.
    if (status < 500 && status !== 408 && status !== 429) return { kind: 'final', error: `HTTP ${status}` };
    return { kind: 'retryable', error: `HTTP ${status}` };
  } catch (error) {
    if (options.signal.aborted) return { kind: 'aborted' };
    return { kind: 'retryable', error: describe(error) };
  }
}
