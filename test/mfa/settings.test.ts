// The second-factor settings: their defaults, and refusals that name the variable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const base = { NODE_ENV: 'test', ISSUER: 'https://id.example.com', MASTER_KEY: Buffer.alloc(32, 7).toString('base64') };
const refused = (env: Record<string, string>, variable: string) =>
  assert.throws(
    () => loadConfig({ ...base, ...env }),
    (e: unknown) => e instanceof ConfigError && e.variable === variable,
    `${JSON.stringify(env)} names ${variable}`,
  );

test('defaults: admins must use a second factor; passkeys on the issuer; five minutes for step-up', () => {
  const { mfa, alerts } = loadConfig(base);
  assert.deepEqual(mfa, {
    requiredRoles: ['admin'],
    requiredForAll: false,
    stepUpMaxAge: 300,
    loginTtl: 300,
    rpId: 'id.example.com',
    origins: ['https://id.example.com'],
  });
  assert.equal(alerts.mfaFailuresPerAccount, 5);
});

test('MFA_REQUIRED_ROLES: a list of roles; set but empty, or none, is no role', () => {
  assert.deepEqual(loadConfig({ ...base, MFA_REQUIRED_ROLES: '' }).mfa.requiredRoles, []);
  assert.deepEqual(loadConfig({ ...base, MFA_REQUIRED_ROLES: 'none' }).mfa.requiredRoles, []);
  assert.deepEqual(loadConfig({ ...base, MFA_REQUIRED_ROLES: 'admin, moderator' }).mfa.requiredRoles, [
    'admin',
    'moderator',
  ]);
  assert.equal(loadConfig({ ...base, MFA_REQUIRED: 'all' }).mfa.requiredForAll, true);
  refused({ MFA_REQUIRED_ROLES: 'root' }, 'MFA_REQUIRED_ROLES');
  refused({ MFA_REQUIRED_ROLES: 'admin;user' }, 'MFA_REQUIRED_ROLES');
  refused({ MFA_REQUIRED: 'some' }, 'MFA_REQUIRED');
  refused({ STEP_UP_MAX_AGE: '5' }, 'STEP_UP_MAX_AGE');
});

test('WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS: https origins on the relying party id', () => {
  const parent = loadConfig({
    ...base,
    WEBAUTHN_RP_ID: 'example.com',
    WEBAUTHN_ORIGINS: 'https://id.example.com,https://app.example.com',
  });
  assert.equal(parent.mfa.rpId, 'example.com');
  assert.deepEqual(parent.mfa.origins, ['https://id.example.com', 'https://app.example.com']);
  assert.deepEqual(
    loadConfig({ ...base, WEBAUTHN_ORIGINS: 'http://localhost:3000', WEBAUTHN_RP_ID: 'localhost' }).mfa.origins,
    ['http://localhost:3000'],
  );
  refused({ WEBAUTHN_ORIGINS: 'http://id.example.com' }, 'WEBAUTHN_ORIGINS');
  refused({ WEBAUTHN_ORIGINS: 'https://evil.example' }, 'WEBAUTHN_ORIGINS');
  refused({ WEBAUTHN_ORIGINS: 'https://id.example.com/path' }, 'WEBAUTHN_ORIGINS');
  refused({ WEBAUTHN_RP_ID: 'Example.COM' }, 'WEBAUTHN_RP_ID');
  refused({ WEBAUTHN_RP_ID: 'other.example' }, 'WEBAUTHN_ORIGINS');
});
