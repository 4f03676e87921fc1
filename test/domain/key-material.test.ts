// Signing key generation: kid is the RFC 7638 thumbprint, the public JWK carries
// public members only, RSA is 3072 bits, and what the private key signs the public verifies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import { generateSigningKey, publicJwkOf } from '../../src/domain/keys/key-material.js';
import type { SigningAlg } from '../../src/config/config.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];
const ALLOWED: Record<SigningAlg, { kty: string; members: string[]; crv?: string }> = {
  ES256: { kty: 'EC', crv: 'P-256', members: ['kty', 'kid', 'alg', 'use', 'crv', 'x', 'y'] },
  EdDSA: { kty: 'OKP', crv: 'Ed25519', members: ['kty', 'kid', 'alg', 'use', 'crv', 'x'] },
  RS256: { kty: 'RSA', members: ['kty', 'kid', 'alg', 'use', 'n', 'e'] },
  PS256: { kty: 'RSA', members: ['kty', 'kid', 'alg', 'use', 'n', 'e'] },
};

for (const alg of ['ES256', 'EdDSA', 'RS256', 'PS256'] as const) {
  test(`${alg}: kid, public members, key size and a signature round trip`, async () => {
    const key = await generateSigningKey(alg);
    const expected = ALLOWED[alg];

    assert.equal(key.alg, alg);
    assert.equal(
      key.kid,
      await calculateJwkThumbprint(key.publicJwk as JWK, 'sha256'),
      'kid is the RFC 7638 thumbprint',
    );
    assert.match(key.kid, /^[A-Za-z0-9_-]{43}$/, 'a base64url SHA-256');
    assert.equal(key.privateJwk.kid, key.kid);

    const pub = key.publicJwk as unknown as Record<string, unknown>;
    assert.deepEqual(Object.keys(pub).sort(), [...expected.members].sort(), 'exactly the allowed public members');
    for (const member of PRIVATE_MEMBERS) assert.equal(pub[member], undefined, `no ${member} in the public JWK`);
    assert.equal(pub.kty, expected.kty);
    assert.equal(pub.alg, alg);
    assert.equal(pub.use, 'sig');
    if (expected.crv) assert.equal(pub.crv, expected.crv);
    assert.equal(typeof key.privateJwk.d, 'string', 'the private JWK does hold the private part');

    if (expected.kty === 'RSA') {
      const modulus = Buffer.from(String(pub.n), 'base64url');
      assert.equal(modulus.length * 8, 3072);
      assert.ok((modulus[0] ?? 0) & 0x80, 'the top bit is set: a full 3072-bit modulus');
      assert.equal(pub.e, 'AQAB');
    }

    const privateKey = await importJWK(key.privateJwk, alg);
    const publicKey = await importJWK(key.publicJwk as JWK, alg);
    assert.equal((publicKey as { type?: string }).type, 'public');
    const jwt = await new SignJWT({ sub: 'user-1' })
      .setProtectedHeader({ alg, kid: key.kid })
      .setIssuedAt()
      .sign(privateKey);
    assert.equal(decodeProtectedHeader(jwt).kid, key.kid);
    const { payload } = await jwtVerify(jwt, publicKey, { algorithms: [alg] });
    assert.equal(payload.sub, 'user-1');

    // The signature covers the claims: a changed payload is refused.
    const [header, , signature] = jwt.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ sub: 'admin' })).toString('base64url')}.${signature}`;
    await assert.rejects(jwtVerify(forged, publicKey, { algorithms: [alg] }));

    // And it is bound to the key: another key of the same algorithm refuses it
    // (skipped for RSA, where a second 3072-bit key costs a second or more).
    if (expected.kty !== 'RSA') {
      const other = await generateSigningKey(alg);
      assert.notEqual(other.kid, key.kid);
      await assert.rejects(jwtVerify(jwt, await importJWK(other.publicJwk as JWK, alg), { algorithms: [alg] }));
    }
  });
}

test('publicJwkOf copies an allow-list, whatever extra members the input has', () => {
  const hostile = {
    kty: 'EC',
    crv: 'P-256',
    x: 'x-value',
    y: 'y-value',
    d: 'secret',
    k: 'secret',
    extra: 'junk',
  } as JWK;
  assert.deepEqual(publicJwkOf(hostile, 'kid-1', 'ES256'), {
    kty: 'EC',
    kid: 'kid-1',
    alg: 'ES256',
    use: 'sig',
    crv: 'P-256',
    x: 'x-value',
    y: 'y-value',
  });
});

test('publicJwkOf refuses symmetric keys and keys missing a public member', () => {
  assert.throws(() => publicJwkOf({ kty: 'oct', k: 'c2VjcmV0' }, 'kid', 'ES256'), /unsupported key type/);
  assert.throws(() => publicJwkOf({ kty: 'RSA', n: 'abc' }, 'kid', 'RS256'), /missing/);
  assert.throws(() => publicJwkOf({}, 'kid', 'ES256'), /unsupported key type/);
});
