// Reading the audit log: one page of events for admins (the read itself recorded), and
// the newest signed checkpoint.
import type { Queryable } from '../db/database.js';
import { readAuditKey, readTree } from '../db/repositories/audit-tree.js';
import { checkpointDocument, type CheckpointDocument } from './checkpoint-document.js';
import { storedVerifierKey } from './verify-log.js';
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

/** The newest signed checkpoint as its JSON document; undefined before the first seal. */
export async function newestCheckpoint(db: Queryable): Promise<CheckpointDocument | undefined> {
  const [tree, key] = [await readTree(db), await readAuditKey(db)];
  if (tree.checkpoint === null || !key) return undefined;
  return checkpointDocument(tree.checkpoint, storedVerifierKey(key));
}
