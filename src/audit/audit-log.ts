// Recording security events: every one goes through recordSecurityEvent, which completes
// what the caller left out (the acting user, IP, user agent and request id the HTTP layer
// collected in the request context; the target the event names), redacts the detail and
// hands the finished row to the security_events repository. Retention lives here too.
import type { Database, Queryable } from '../db/database.js';
import { insertSecurityEvent, pruneEventsBefore, type PruneResult } from '../db/repositories/security-events.js';
import { pruneAlerts } from '../db/repositories/alerts.js';
import { defaultOutcome, type Outcome } from './event-types.js';
import { auditContext, noteSecurityEvent } from './request-context.js';
import { redactDeep } from '../lib/redact.js';

/** A detail larger than this (as JSON) is replaced by a note saying so. */
const MAX_DETAIL_BYTES = 4096;

export interface SecurityEventInput {
  type: string;
  userId?: string | null;
  sessionId?: string | null;
  ip?: string | null;
  detail?: Record<string, unknown>;
  /** Defaults by type (EVENT_TYPES). */
  outcome?: Outcome;
  /** The acting user or client id, 'cli', or null for anonymous/system; defaults to the request's user, then detail.by. */
  actor?: string | null;
  /** What was acted on; defaults to the key (key_*) or client (client_created) in detail, the user, then the session. */
  target?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
}

const clip = (value: string | null | undefined, max: number) =>
  typeof value === 'string' ? value.slice(0, max) : null;

/** The small JSON detail: no secrets (by key name, at any depth) and bounded in size. */
export function sanitizeDetail(detail: Record<string, unknown> | undefined): Record<string, unknown> {
  const clean = (redactDeep(detail ?? {}) ?? {}) as Record<string, unknown>;
  const size = Buffer.byteLength(JSON.stringify(clean), 'utf8');
  return size <= MAX_DETAIL_BYTES ? clean : { truncated: true, bytes: size };
}

/** Key and client events act on the key or client their detail names. */
function subjectOf(type: string, detail: Record<string, unknown> | undefined): string | undefined {
  const value = type.startsWith('key_') ? detail?.kid : type === 'client_created' ? detail?.client_id : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** Fills what the caller left out from the request context and the event itself. */
function completeEvent(e: SecurityEventInput) {
  const context = auditContext();
  const by = typeof e.detail?.by === 'string' && e.detail.by !== 'revocation' ? e.detail.by : undefined;
  return {
    type: e.type.slice(0, 64),
    outcome: e.outcome ?? defaultOutcome(e.type),
    actor: clip(e.actor !== undefined ? e.actor : (context?.actor?.() ?? by ?? null), 200),
    target: clip(
      e.target !== undefined ? e.target : (subjectOf(e.type, e.detail) ?? e.userId ?? e.sessionId ?? null),
      200,
    ),
    userId: e.userId ?? null,
    sessionId: e.sessionId ?? null,
    ip: clip(e.ip ?? context?.ip ?? null, 64),
    userAgent: clip(e.userAgent !== undefined ? e.userAgent : (context?.userAgent ?? null), 512),
    requestId: clip(e.requestId !== undefined ? e.requestId : (context?.requestId ?? null), 64),
    detail: sanitizeDetail(e.detail),
  };
}

/**
 * Appends one event. Inside a caller's transaction (tx) it is part of that transaction:
 * it commits or rolls back with the change it describes.
 */
export async function recordSecurityEvent(db: Queryable, e: SecurityEventInput): Promise<void> {
  const row = completeEvent(e);
  await insertSecurityEvent(db, row);
  noteSecurityEvent({ type: row.type, outcome: row.outcome });
}

/**
 * Deletes events older than the retention and records the anchor as an audit_pruned
 * event in the same transaction, so the rest of the chain stays checkable.
 */
export async function pruneAuditLog(db: Database, retentionDays: number): Promise<Omit<PruneResult, 'throughHash'>> {
  if (retentionDays <= 0) return { deleted: 0, throughId: null };
  return db.transaction(async (tx) => {
    const { deleted, throughId, throughHash } = await pruneEventsBefore(tx, retentionDays);
    if (throughId === null) return { deleted: 0, throughId: null };
    await recordSecurityEvent(tx, {
      type: 'audit_pruned',
      target: null,
      detail: { through_id: throughId, through_hash: throughHash, deleted, retention_days: retentionDays },
    });
    return { deleted, throughId };
  });
}

/** Audit retention: the log (keeping its chain checkable) and the alerts that summarize it. */
export async function applyAuditRetention(db: Database, retentionDays: number): Promise<void> {
  await pruneAuditLog(db, retentionDays);
  await pruneAlerts(db, retentionDays);
}
