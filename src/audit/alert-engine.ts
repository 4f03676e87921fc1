// Reads sealed security events in leaf order (never in the request that made them; a
// leaf is never skipped, whatever order transactions commit in), feeds them to the alert
// rules, stores alerts deduplicated per rule and subject and logs each new one at warn. A
// stored alert is queued for the webhook in the same transaction that advances the read
// position (the delivery worker sends it; see alert-delivery.ts). The read position is one
// locked row, so with several instances on one database each event is evaluated once, by
// one of them; events recorded by CLI commands alert through the running server.
import type { Database } from '../db/database.js';
import { SingleFlight } from '../lib/single-flight.js';
import { countEventsInWindow, listSealedEventsAfter } from '../db/repositories/security-events.js';
import {
  advanceAlertCursor,
  foldIntoAlert,
  insertAlert,
  latestAlert,
  lockAlertCursor,
  type AlertRow,
} from '../db/repositories/alerts.js';
import { dedupeDecision, groupMatches, RULES, summarize, type AlertSettings } from './alert-rules.js';
import { AlertDelivery, alertPayload, type AlertDeliveryOptions } from './alert-delivery.js';
import type { WebhookSettings } from './webhook.js';

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface AlertEngineSettings extends AlertSettings {
  checkIntervalMs: number;
  webhook: WebhookSettings;
  /** Named in each payload, so a receiver serving several deployments can tell them apart. */
  issuer: string;
}

/** Events read per transaction; a longer backlog is read in several. */
const BATCH = 500;

export class AlertEngine {
  /** The delivery worker (polls every checkIntervalMs too). */
  readonly webhook: AlertDelivery;
  private timer: NodeJS.Timeout | undefined;
  private readonly passes = new SingleFlight<AlertRow[]>(() => this.drain());
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly settings: AlertEngineSettings,
    private readonly log: Log,
    private readonly hooks: { beforeCheck?: () => Promise<unknown> } = {},
    delivery: AlertDeliveryOptions = {},
  ) {
    this.webhook = new AlertDelivery(
      db,
      {
        webhook: settings.webhook,
        pollIntervalMs: settings.checkIntervalMs,
        issuer: settings.issuer,
        dedupWindowSeconds: settings.dedupWindowSeconds,
      },
      log,
      delivery,
    );
  }

  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => {
      this.check().catch((error: unknown) => this.log.error({ err: error }, 'alert check failed'));
    }, this.settings.checkIntervalMs);
    this.timer.unref();
    this.webhook.start();
  }

  /** Evaluates every event recorded since the last check; returns the alerts raised. One check at a time. */
  check(): Promise<AlertRow[]> {
    return this.passes.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.passes.idle();
    await this.webhook.close();
  }

  private async drain(): Promise<AlertRow[]> {
    await this.hooks.beforeCheck?.();
    const raised: AlertRow[] = [];
    for (let round = 0; round < 20 && !this.closed; round++) {
      const { alerts, read } = await this.evaluateBatch();
      raised.push(...alerts);
      for (const alert of alerts) this.announce(alert);
      // Committed: the worker sends them now rather than at its next poll.
      if (alerts.length) this.webhook.nudge();
      if (read < BATCH) break;
    }
    return raised;
  }

  private async evaluateBatch(): Promise<{ alerts: AlertRow[]; read: number }> {
    const s = this.settings;
    return this.db.transaction(async (tx) => {
      const cursor = await lockAlertCursor(tx);
      if (cursor === undefined) return { alerts: [], read: 0 };
      const read = await listSealedEventsAfter(tx, cursor.lastLeaf, BATCH);
      if (read.length === 0) return { alerts: [], read: 0 };
      // Events recorded before the tree were read by the chain's cursor already.
      const events = read.filter((e) => e.id > cursor.legacyFloor);
      const leafOf = new Map(events.map((e) => [e.id, e.leaf_index!]));
      const alerts: AlertRow[] = [];
      for (const group of groupMatches(events, s)) {
        const { match } = group;
        const lastEventId = group.eventIds[group.eventIds.length - 1]!;
        let count = group.eventIds.length;
        if (match.threshold) {
          count = await countEventsInWindow(tx, {
            types: match.threshold.types,
            field: match.threshold.field,
            subject: match.subject,
            throughLeaf: leafOf.get(lastEventId)!,
            windowSeconds: s.windowSeconds,
            weight: match.threshold.weight,
          });
          if (count < match.threshold.limit) continue;
        }
        const existing = await latestAlert(tx, match.rule, match.subject);
        if (existing && dedupeDecision(existing, group.lastAt, s.dedupWindowSeconds) === 'merge') {
          await foldIntoAlert(tx, existing.id, {
            occurrences: group.eventIds.length,
            seenAt: group.lastAt,
            lastEventId,
          });
          continue;
        }
        alerts.push(
          await insertAlert(tx, {
            rule: match.rule,
            subject: match.subject,
            severity: RULES[match.rule].severity,
            summary: summarize(match.rule, count, match.detail, s),
            count,
            seenAt: group.lastAt,
            firstEventId: group.eventIds[0]!,
            lastEventId,
            detail: {
              ...match.detail,
              ...(match.threshold ? { threshold: match.threshold.limit, window_seconds: s.windowSeconds } : {}),
            },
            delivery: this.webhook.configured ? 'pending' : 'not_configured',
          }),
        );
      }
      await advanceAlertCursor(tx, read[read.length - 1]!.leaf_index!);
      return { alerts, read: read.length };
    });
  }

  private announce(alert: AlertRow): void {
    const payload = alertPayload(alert, this.settings);
    this.log.warn({ event: 'security_alert', alert: payload }, `security alert: ${alert.summary}`);
  }
}
