// The account life cycle's settings: defaults from the contract, refusals naming the
// variable, and production's rule that open registration and self-service reset need mail.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const PRODUCTION: Record<string, string> = {
  NODE_ENV: 'production',
  MASTER_KEY_FILE: '/run/secrets/tessera-master.key',
  DATABASE_URL: 'postgres://tessera@db.internal:5432/tessera?sslmode=verify-full',
  ISSUER: 'https://id.example.com',
  CAPTCHA_PROVIDER: 'none',
};

test('defaults: verification required, reset 30 min, unverified accounts a day, secret overlap a day', () => {
  const config = loadConfig({});
  assert.equal(config.accounts.emailVerification, 'required');
  assert.equal(config.accounts.passwordResetTtl, 1800);
  assert.equal(config.accounts.unverifiedTtl, 86_400);
  assert.equal(config.accounts.invitationTtl, 604_800);
  assert.equal(config.clientSecretOverlap, 86_400);
  assert.equal(config.mail.smtpUrl, undefined);
  assert.equal(config.mail.dir, 'data/mail');
  assert.equal(config.accounts.selfServiceReset, true, 'outside production mail lands in files');
});

test('hostile values are refused naming the variable', () => {
  for (const [name, value] of [
    ['EMAIL_VERIFICATION', 'maybe'],
    ['PASSWORD_RESET_TTL', '0'],
    ['PASSWORD_RESET_TTL', '999999'],
    ['UNVERIFIED_ACCOUNT_TTL', '-5'],
    ['CLIENT_SECRET_OVERLAP', '1e3'],
    ['INVITATION_TTL', '10'],
  ] as const) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (e: unknown) => e instanceof ConfigError && e.variable === name,
      `${name}=${value}`,
    );
  }
  assert.equal(loadConfig({ CLIENT_SECRET_OVERLAP: '0' }).clientSecretOverlap, 0);
});

test('production: open registration needs SMTP_URL; a closed one starts without, with self-service reset off', () => {
  assert.throws(
    () => loadConfig(PRODUCTION),
    (e: unknown) => e instanceof ConfigError && e.variable === 'SMTP_URL',
  );
  const closed = loadConfig({ ...PRODUCTION, REGISTRATION: 'closed' });
  assert.equal(closed.accounts.selfServiceReset, false);
  const mailed = loadConfig({ ...PRODUCTION, SMTP_URL: 'smtps://mailer:secret@smtp.example.com:465' });
  assert.equal(mailed.accounts.selfServiceReset, true);
});
