// Failed logins per account name and per client IP, for the sliding-window counters
// that decide when a captcha is needed (when REDIS_URL is unset).
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class LoginFailures1764442800000 implements MigrationInterface {
  name = 'LoginFailures1764442800000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE login_failures (
        id bigserial PRIMARY KEY,
        key text NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await db.query('CREATE INDEX login_failures_key_at ON login_failures (key, at)');
    await db.query('CREATE INDEX login_failures_at ON login_failures (at)');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE login_failures');
  }
}
