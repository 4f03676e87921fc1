// A master key rotation keeps every second factor working: TOTP secrets and the recovery
// codes' HMAC key are re-sealed under the new key, and the old key alone opens nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { rewrapSecrets } from '../../src/keys/rewrap.js';
import { TEST_MASTER_KEY } from '../helpers/build.js';
import { enrolTotp, mfaApp, mfaToken, newUser, secondStep, totp } from './helpers.js';

test('master key rotation re-seals TOTP secrets and the recovery key; factors keep working', async (t) => {
  const first = await mfaApp(t);
  const user = await newUser(first.app);
  const { secret, recoveryCodes } = await enrolTotp(first.app, user.tokens.access_token);
  await first.services.close();

  const newKey = randomBytes(32).toString('base64');
  const rotating = await mfaApp(t, { MASTER_KEY: newKey, MASTER_KEY_PREVIOUS: TEST_MASTER_KEY });
  const result = await rewrapSecrets(rotating.services.db, rotating.services.box);
  assert.ok(result.rewrapped >= 4, JSON.stringify(result));
  const sealed = await rotating.services.db.query<{ s: string }>(
    `SELECT totp_secret AS s FROM mfa_factors WHERE kind = 'totp' UNION ALL SELECT sealed FROM sealed_secrets`,
  );
  assert.ok(sealed.length >= 2);
  for (const row of sealed) assert.equal(SecretBox.sealedWith(row.s), rotating.services.box.keyId);
  await rotating.services.close();

  // The new key alone: the TOTP code and a recovery code made before the rotation both work.
  const after = await mfaApp(t, { MASTER_KEY: newKey });
  const byCode = await secondStep(after.app, {
    mfa_token: (await mfaToken(after.app, user.email)).mfa_token,
    method: 'totp',
    code: totp(secret, 1),
  });
  assert.equal(byCode.statusCode, 200, byCode.body);
  const byRecovery = await secondStep(after.app, {
    mfa_token: (await mfaToken(after.app, user.email)).mfa_token,
    method: 'recovery_code',
    code: recoveryCodes[0]!,
  });
  assert.equal(byRecovery.statusCode, 200, byRecovery.body);
  await after.services.close();

  // Back to the test key, so this file's database stays as other tests expect it.
  const back = await mfaApp(t, { MASTER_KEY: TEST_MASTER_KEY, MASTER_KEY_PREVIOUS: newKey });
  await rewrapSecrets(back.services.db, back.services.box);
});
