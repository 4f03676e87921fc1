// Reading the audit log for admins: one page of events, and the read itself recorded.
import type { Queryable } from '../db/database.js';
import { queryAuditEvents, type AuditEvent, type AuditFilter } from '../db/repositories/security-events.js';
import { recordSecurityEvent } from './audit-log.js';

export type { AuditEvent };

export async function readAuditLog(
  db: Queryable,
  filter: AuditFilter,
  asked: { filters: Record<string, unknown>; page: string | null },
): Promise<{ events: AuditEvent[]; next: number | null }> {
  const page = await queryAuditEvents(db, filter);
  await recordSecurityEvent(db, {
    type: 'audit_read',
    target: null,
    detail: { filters: asked.filters, returned: page.events.length, page: asked.page },
  });
  return page;
}
