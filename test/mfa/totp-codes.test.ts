// The TOTP check and the recovery codes on their own: real codes computed here with
// otplib's generator, ±1 step accepted, older steps and replays refused.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { generate } from 'otplib';
import { matchTotp, newTotpSecret, totpQrSvg, totpUri } from '../../src/domain/mfa/totp.js';
import {
  hashRecoveryCode,
  newRecoveryCodes,
  normaliseRecoveryCode,
  RECOVERY_CODE_COUNT,
} from '../../src/domain/mfa/recovery-codes.js';

const at = (secret: string, ms: number) => generate({ secret, epoch: Math.floor(ms / 1000) });

test('a code matches its step and the steps either side, never two steps away', async () => {
  const secret = newTotpSecret();
  assert.match(secret, /^[A-Z2-7]{32}$/);
  const now = 1_800_000_015_000;
  const step = Math.floor(now / 30_000);
  assert.equal(await matchTotp(secret, await at(secret, now), null, now), step);
  assert.equal(await matchTotp(secret, await at(secret, now - 30_000), null, now), step - 1);
  assert.equal(await matchTotp(secret, await at(secret, now + 30_000), null, now), step + 1);
  assert.equal(await matchTotp(secret, await at(secret, now - 60_000), null, now), null);
  assert.equal(await matchTotp(secret, await at(secret, now + 60_000), null, now), null);
  assert.equal(await matchTotp(newTotpSecret(), await at(secret, now), null, now), null);
});

test('a used step and the ones before it never match again', async () => {
  const secret = newTotpSecret();
  const now = 1_800_000_015_000;
  const step = Math.floor(now / 30_000);
  const code = await at(secret, now);
  assert.equal(await matchTotp(secret, code, step, now), null);
  assert.equal(await matchTotp(secret, await at(secret, now - 30_000), step, now), null);
  assert.equal(await matchTotp(secret, await at(secret, now + 30_000), step, now), step + 1);
});

test('malformed codes never match', async () => {
  const secret = newTotpSecret();
  for (const code of ['', '12345', '1234567', 'abcdef', ' 123456', '12 456'])
    assert.equal(await matchTotp(secret, code, null), null);
});

test('the URI names issuer and account; the QR code is plain SVG', () => {
  const uri = new URL(totpUri('JBSWY3DPEHPK3PXP', 'Tessera', 'ann@example.com'));
  assert.equal(uri.protocol, 'otpauth:');
  assert.equal(uri.searchParams.get('secret'), 'JBSWY3DPEHPK3PXP');
  assert.equal(uri.searchParams.get('issuer'), 'Tessera');
  const svg = totpQrSvg(uri.href);
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.doesNotMatch(svg, /<script|href=|on[a-z]+=/i);
});

test('recovery codes: ten distinct, normalised as typed, hashed per user', () => {
  const codes = newRecoveryCodes();
  assert.equal(codes.length, RECOVERY_CODE_COUNT);
  assert.equal(new Set(codes).size, RECOVERY_CODE_COUNT);
  for (const c of codes) assert.match(c, /^[a-z2-9]{5}-[a-z2-9]{5}$/);
  const n = normaliseRecoveryCode(` ${codes[0]!.toUpperCase().replace('-', ' - ')} `);
  assert.equal(n, codes[0]!.replace('-', ''));
  assert.equal(normaliseRecoveryCode('short'), null);
  assert.equal(normaliseRecoveryCode('0000000000'), null);
  const key = randomBytes(32);
  assert.notDeepEqual(hashRecoveryCode(key, 'user-a', n), hashRecoveryCode(key, 'user-b', n));
  assert.deepEqual(hashRecoveryCode(key, 'user-a', n), hashRecoveryCode(key, 'user-a', n));
});
