// AUDIT_EXPORT_URL: sealed events are POSTed, in leaf order and in batches, to a system
// apart from this database (ASVS 16.4.3). Its cursor lives on the tree's state row beside
// the checkpoint push's: exported_size (every leaf below it was delivered), and the
// claim/backoff of the next batch. The audit_tree guard lets these columns move (size and
// the prune columns stay); the runtime role's UPDATE on audit_tree covers them.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AuditExport1765411200000 implements MigrationInterface {
  name = 'AuditExport1765411200000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE audit_tree
        ADD COLUMN exported_size bigint NOT NULL DEFAULT 0 CHECK (exported_size >= 0 AND exported_size <= size),
        ADD COLUMN export_attempts integer NOT NULL DEFAULT 0,
        ADD COLUMN next_export_at timestamptz NOT NULL DEFAULT now()`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(
      'ALTER TABLE audit_tree DROP COLUMN next_export_at, DROP COLUMN export_attempts, DROP COLUMN exported_size',
    );
  }
}
