// Alert deliveries become a durable queue on the alerts table itself: a pending alert is
// due at next_attempt_at, claimed by one instance at a time under a lease (claimed_until,
// with a token so a late outcome of a lost claim changes nothing), and retried with
// backoff. delivery_key makes each alert's webhook-id unique beyond this database, so a
// receiver serving several deployments (or one restored from a backup) dedupes safely.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AlertOutbox1765152000000 implements MigrationInterface {
  name = 'AlertOutbox1765152000000';

  async up(db: QueryRunner): Promise<void> {
    // gen_random_uuid() is volatile: each existing row gets a key of its own.
    await db.query(`
      ALTER TABLE alerts
        ADD COLUMN delivery_key uuid NOT NULL DEFAULT gen_random_uuid(),
        ADD COLUMN next_attempt_at timestamptz,
        ADD COLUMN claimed_until timestamptz,
        ADD COLUMN claim_token uuid`);
    // Alerts left pending by the in-memory dispatcher (a restart cut them) are due now.
    await db.query(`UPDATE alerts SET next_attempt_at = now() WHERE delivery = 'pending'`);
    await db.query(`
      ALTER TABLE alerts
        ADD CONSTRAINT alerts_due_when_pending CHECK ((delivery = 'pending') = (next_attempt_at IS NOT NULL)),
        ADD CONSTRAINT alerts_claim CHECK ((claimed_until IS NULL) = (claim_token IS NULL))`);
    await db.query(`CREATE INDEX alerts_delivery_due ON alerts (next_attempt_at) WHERE delivery = 'pending'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP INDEX alerts_delivery_due');
    await db.query(`
      ALTER TABLE alerts
        DROP CONSTRAINT alerts_claim,
        DROP CONSTRAINT alerts_due_when_pending,
        DROP COLUMN claim_token,
        DROP COLUMN claimed_until,
        DROP COLUMN next_attempt_at,
        DROP COLUMN delivery_key`);
  }
}
