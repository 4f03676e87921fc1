// The mail settings: hostile SMTP_URL, MAIL_FROM and SMTP_CA_FILE values stop the start
// naming the variable, and production with open registration refuses to run without SMTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { buildServer } from '../../src/server.js';
import { testConfig } from '../helpers/build.js';

function assertRefused(env: Record<string, string>, variable: string): void {
  assert.throws(
    () => loadConfig(env),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
      assert.equal(error.variable, variable);
      assert.match(error.message, new RegExp(`\\b${variable}\\b`));
      return true;
    },
    JSON.stringify(env),
  );
}

const PRODUCTION: Record<string, string> = {
  NODE_ENV: 'production',
  MASTER_KEY_FILE: '/run/secrets/tessera-master.key',
  DATABASE_URL: 'postgres://tessera@db.internal:5432/tessera?sslmode=verify-full',
  ISSUER: 'https://id.example.com',
  CAPTCHA_SECRET: 'placeholder-captcha-secret',
  CAPTCHA_SITEKEY: 'placeholder-site-key',
};

test('SMTP_URL must be an smtp:// or smtps:// URL with a host', () => {
  for (const value of [
    'http://mail.example.com',
    'smtp://',
    'smtp:// mail.example.com',
    'mail.example.com:587',
    'smtps://user:pass@',
    'sendmail:///usr/sbin/sendmail',
  ]) {
    assertRefused({ SMTP_URL: value }, 'SMTP_URL');
  }
  const config = loadConfig({ SMTP_URL: 'smtps://user:p%40ss@mail.example.com:465' });
  assert.equal(config.mail.smtpUrl, 'smtps://user:p%40ss@mail.example.com:465');
});

test('MAIL_FROM must be one address, with no way to add a header', () => {
  for (const value of [
    'no-at-sign',
    'a@b',
    'Name <not an address>',
    'a@example.com\r\nBcc: victim@example.org',
    'Name <a@example.com>\nX: y',
    'a@example.com, b@example.com',
  ]) {
    assertRefused({ MAIL_FROM: value }, 'MAIL_FROM');
  }
  assert.equal(loadConfig({ MAIL_FROM: 'Acme <no-reply@acme.test>' }).mail.from, 'Acme <no-reply@acme.test>');
  assert.equal(
    loadConfig({ ISSUER: 'https://id.example.com', BRAND_NAME: 'Acme "X"\r\n' }).mail.from,
    '"Acme X" <no-reply@id.example.com>',
  );
});

test('SMTP_CA_FILE is taken only with SMTP_URL, and must be a readable PEM certificate', async () => {
  assertRefused({ SMTP_CA_FILE: '/etc/ssl/private-ca.pem' }, 'SMTP_CA_FILE');
  const ok = loadConfig({ SMTP_URL: 'smtps://mail.example.com', SMTP_CA_FILE: '/etc/ssl/private-ca.pem' });
  assert.equal(ok.mail.caFile, '/etc/ssl/private-ca.pem');

  // Read when the app starts: a missing or wrong file stops the start naming the variable.
  const dir = mkdtempSync(join(tmpdir(), 'tessera-ca-'));
  const notPem = join(dir, 'not-a-cert.pem');
  writeFileSync(notPem, 'just text');
  for (const file of [join(dir, 'missing.pem'), notPem]) {
    const config = await testConfig({ SMTP_URL: 'smtps://127.0.0.1:1', SMTP_CA_FILE: file });
    await assert.rejects(
      async () => {
        const app = await buildServer(config);
        await app.close();
      },
      (error: unknown) => error instanceof ConfigError && error.variable === 'SMTP_CA_FILE',
    );
  }
});

test('production with open registration needs SMTP_URL; closed registration runs without it', () => {
  assertRefused({ ...PRODUCTION }, 'SMTP_URL');
  assertRefused({ ...PRODUCTION, REGISTRATION: 'open' }, 'SMTP_URL');
  const withSmtp = loadConfig({ ...PRODUCTION, SMTP_URL: 'smtps://relay.example.com' });
  assert.equal(withSmtp.accounts.selfServiceReset, true);
  const closed = loadConfig({ ...PRODUCTION, REGISTRATION: 'closed' });
  assert.equal(closed.mail.smtpUrl, undefined);
  assert.equal(closed.accounts.selfServiceReset, false);
  // Outside production mail without SMTP_URL goes to DATA_DIR/mail.
  assert.equal(loadConfig({ DATA_DIR: '/var/lib/tessera' }).mail.dir, '/var/lib/tessera/mail');
});
