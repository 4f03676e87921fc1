// Who is acting, from where, in which request: carried alongside the work (async local
// storage) so that every security event gets the request id, user agent and actor without
// threading them through each function that records one. Outside a request (key sync,
// CLI commands) the context is whatever the caller set, or nothing.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Outcome } from './event-types.js';

/** An event as recorded, for in-process observers (metrics). */
export interface RecordedEvent {
  type: string;
  outcome: Outcome;
}

export interface AuditContext {
  requestId?: string;
  ip?: string;
  userAgent?: string | null;
  /** The acting user or client, read when an event is recorded (authentication runs later than the context is made). */
  actor?: () => string | null | undefined;
  /** Called for each event recorded in this context. */
  onEvent?: (event: RecordedEvent) => void;
}

const storage = new AsyncLocalStorage<AuditContext>();

export function auditContext(): AuditContext | undefined {
  return storage.getStore();
}

export function runWithAuditContext<T>(context: AuditContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** Tells the context's observers about an event recorded elsewhere (e.g. in SQL). */
export function noteSecurityEvent(event: RecordedEvent): void {
  try {
    storage.getStore()?.onEvent?.(event);
  } catch {
    // Observers (metrics) never fail the work that recorded the event.
  }
}
