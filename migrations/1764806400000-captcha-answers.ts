// Captcha answers already presented, so that each passes once across every instance (when
// REDIS_URL is unset). A SHA-256 of the answer, never the answer; pruned once expired.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CaptchaAnswers1764806400000 implements MigrationInterface {
  name = 'CaptchaAnswers1764806400000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE captcha_answers (
        hash text PRIMARY KEY CHECK (hash ~ '^[0-9a-f]{64}$'),
        expires_at timestamptz NOT NULL
      )`);
    await db.query('CREATE INDEX captcha_answers_expires_at ON captcha_answers (expires_at)');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE captcha_answers');
  }
}
