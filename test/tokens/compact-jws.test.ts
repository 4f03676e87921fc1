// The compact JWS signer: what it signs verifies with jose for every SIGNING_ALG, header
// and claims as given; anything it cannot sign correctly it refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyObject } from 'node:crypto';
import { compactVerify, decodeProtectedHeader, generateKeyPair, jwtVerify } from 'jose';
import { signCompactJws } from '../../src/tokens/compact-jws.js';

const ALGS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const;

for (const alg of ALGS) {
  test(`${alg}: jose verifies the token, header and claims as given`, async () => {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const claims = { sub: 'user-1', scope: 'openid email', roles: ['user'], iat: 1_800_000_000, exp: 4_100_000_000 };
    const token = await signCompactJws({ alg, kid: 'kid-1', typ: 'at+jwt' }, claims, privateKey);
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.deepEqual(decodeProtectedHeader(token), { alg, kid: 'kid-1', typ: 'at+jwt' });
    const { payload, protectedHeader } = await jwtVerify(token, publicKey, { algorithms: [alg], typ: 'at+jwt' });
    assert.deepEqual(payload, claims);
    assert.equal(protectedHeader.alg, alg);
    // The same key as a KeyObject signs alike.
    const again = await signCompactJws({ alg, kid: 'kid-1', typ: 'at+jwt' }, claims, KeyObject.from(privateKey));
    await compactVerify(again, publicKey, { algorithms: [alg] });
  });
}

test('a signature does not verify for other bytes', async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const token = await signCompactJws({ alg: 'ES256', kid: 'k', typ: 'at+jwt' }, { sub: 'a' }, privateKey);
  const [header, , signature] = token.split('.');
  const forged = `${header}.${Buffer.from('{"sub":"b"}').toString('base64url')}.${signature}`;
  await assert.rejects(compactVerify(forged, publicKey), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
});

test('refuses an alg it does not sign with, a key of another type, and a public key', async () => {
  const keys = {
    ES256: await generateKeyPair('ES256', { extractable: true }),
    ES384: await generateKeyPair('ES384', { extractable: true }),
    EdDSA: await generateKeyPair('EdDSA', { extractable: true }),
    RS256: await generateKeyPair('RS256', { extractable: true }),
  };
  for (const alg of ['none', 'HS256', 'ES384', 'constructor', '__proto__']) {
    await assert.rejects(
      signCompactJws({ alg, kid: 'k', typ: 'JWT' }, {}, keys.ES256.privateKey),
      /cannot sign with alg/,
    );
  }
  // node:crypto would sign with any of these whatever the header says (an RSA signature under
  // ES256, a DER ECDSA one under RS256): each is refused before signing.
  const misfits = [
    ['ES256', keys.RS256],
    ['ES256', keys.ES384],
    ['ES256', keys.EdDSA],
    ['EdDSA', keys.ES256],
    ['RS256', keys.ES256],
    ['PS256', keys.EdDSA],
  ] as const;
  for (const [alg, pair] of misfits) {
    await assert.rejects(signCompactJws({ alg, kid: 'k', typ: 'JWT' }, {}, pair.privateKey), /does not fit/, alg);
  }
  await assert.rejects(signCompactJws({ alg: 'ES256', kid: 'k', typ: 'JWT' }, {}, keys.ES256.publicKey), /private key/);
});
