// createVerifier on its own: leeway, the algorithm allow-list, typ and claim checks,
// option validation, the injectable clock and fetch. Keys are served through the
// injectable fetch here; the HTTP behaviour has its own tests (jwks-cache.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, importJWK, type CryptoKey, type JWK } from 'jose';
import {
  createVerifier,
  verifyJwt,
  VERIFIER_ERROR_CODES,
  VerifierError,
  type JwtPolicy,
  type Verifier,
  type VerifierOptions,
} from '@tessera/verifier';
import { makeKey, type TestKey } from './helpers.js';

const ISSUER = 'https://tessera.example';
const AUDIENCE = 'https://api.example';
const NOW = 1_767_225_600;

function verifierFor(keys: JWK[], options: Partial<VerifierOptions> = {}) {
  const calls: string[] = [];
  const verifier = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUri: `${ISSUER}/.well-known/jwks.json`,
    currentDate: new Date(NOW * 1000),
    fetch: async (input) => {
      calls.push(String(input));
      return new Response(JSON.stringify({ keys }), { status: 200, headers: { 'content-type': 'application/json' } });
    },
    ...options,
  });
  return { verifier, calls };
}

async function sign(
  key: TestKey,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
  times: { iat?: number; nbf?: number; exp?: number } = {},
) {
  const jwt = new SignJWT({ sub: 'user-1', jti: 'jti-1', scope: 'openid profile', client_id: 'tessera', ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(times.iat ?? NOW)
    .setExpirationTime(times.exp ?? NOW + 600);
  if (times.nbf !== undefined) jwt.setNotBefore(times.nbf);
  return jwt.sign(key.privateKey);
}

async function codeOf(verifier: Verifier, token: unknown): Promise<string> {
  try {
    await verifier.verify(token as string);
    return 'valid';
  } catch (error) {
    assert.ok(error instanceof VerifierError, String(error));
    return error.code;
  }
}

test('the default leeway is 5 seconds on exp, nbf and iat', async () => {
  const key = await makeKey('ES256');
  const { verifier } = verifierFor([key.publicJwk]);
  assert.equal(await codeOf(verifier, await sign(key, {}, {}, { iat: NOW - 600, exp: NOW - 4 })), 'valid');
  assert.equal(await codeOf(verifier, await sign(key, {}, {}, { iat: NOW - 600, exp: NOW - 6 })), 'ERR_EXPIRED');
  assert.equal(await codeOf(verifier, await sign(key, {}, {}, { nbf: NOW + 4 })), 'valid');
  assert.equal(await codeOf(verifier, await sign(key, {}, {}, { nbf: NOW + 6 })), 'ERR_NOT_YET_VALID');
  assert.equal(await codeOf(verifier, await sign(key, {}, {}, { iat: NOW + 4 })), 'valid');
  assert.equal(await codeOf(verifier, await sign(key, {}, {}, { iat: NOW + 6 })), 'ERR_ISSUED_IN_FUTURE');
});

test('the leeway and the clock are options', async () => {
  const key = await makeKey('ES256');
  const strict = verifierFor([key.publicJwk], { leeway: 0 }).verifier;
  assert.equal(await codeOf(strict, await sign(key, {}, {}, { iat: NOW - 600, exp: NOW - 1 })), 'ERR_EXPIRED');
  assert.equal(await codeOf(strict, await sign(key, {}, {}, { iat: NOW + 1 })), 'ERR_ISSUED_IN_FUTURE');
  let clock = (NOW + 10_000) * 1000;
  const moving = verifierFor([key.publicJwk], { now: () => clock }).verifier;
  const token = await sign(key);
  assert.equal(await codeOf(moving, token), 'ERR_EXPIRED');
  clock = NOW * 1000;
  assert.equal(await codeOf(moving, token), 'valid');
});

test('the algorithm allow-list can be narrowed but never include HS* or none', async () => {
  const rs = await makeKey('RS256');
  const { verifier, calls } = verifierFor([rs.publicJwk], { algorithms: ['ES256'] });
  assert.equal(await codeOf(verifier, await sign(rs)), 'ERR_ALG_NOT_ALLOWED');
  assert.equal(calls.length, 0);
  for (const algorithms of [['HS256'], ['none'], ['ES256', 'HS512'], ['RS1']]) {
    assert.throws(
      () => createVerifier({ issuer: ISSUER, audience: AUDIENCE, algorithms }),
      TypeError,
      algorithms.join(),
    );
  }
  const ps = await makeKey('PS256');
  const ed = await makeKey('EdDSA');
  const all = verifierFor([rs.publicJwk, ps.publicJwk, ed.publicJwk]).verifier;
  for (const key of [rs, ps, ed]) assert.equal(await codeOf(all, await sign(key)), 'valid', key.alg);
});

test('a published key without alg, or for another alg, does not verify', async () => {
  const key = await makeKey('ES256');
  const { alg: _alg, ...withoutAlg } = key.publicJwk;
  assert.equal(await codeOf(verifierFor([withoutAlg]).verifier, await sign(key)), 'ERR_KEY_ALG_MISMATCH');
  const es = await makeKey('ES256');
  const ed = await makeKey('EdDSA');
  // ES256 header naming the EdDSA key's kid.
  const confused = await sign(es, {}, { kid: ed.kid });
  assert.equal(await codeOf(verifierFor([ed.publicJwk]).verifier, confused), 'ERR_KEY_ALG_MISMATCH');
});

test('typ compares case-insensitively; aud may be a list on either side', async () => {
  const key = await makeKey('ES256');
  const { verifier } = verifierFor([key.publicJwk], { audience: ['https://first.example', AUDIENCE] });
  assert.equal(await codeOf(verifier, await sign(key, {}, { typ: 'AT+JWT' })), 'valid');
  assert.equal(await codeOf(verifier, await sign(key, {}, { typ: 'Application/At+Jwt' })), 'valid');
  assert.equal(await codeOf(verifier, await sign(key, { aud: ['https://x.example', AUDIENCE] })), 'valid');
  assert.equal(await codeOf(verifier, await sign(key, {}, { typ: 'jwt' })), 'ERR_TYP');
});

test('claims with the wrong types are refused', async () => {
  const key = await makeKey('ES256');
  const { verifier } = verifierFor([key.publicJwk]);
  for (const claims of [
    { roles: 'admin' },
    { roles: [1] },
    { scope: 42 },
    { sid: {} },
    { client_id: 7 },
    { sub: '' },
    { jti: 5 },
    { auth_time: 'yesterday' },
  ]) {
    assert.equal(await codeOf(verifier, await sign(key, claims)), 'ERR_CLAIM_INVALID', JSON.stringify(claims));
  }
  const claims = await verifier.verify(await sign(key, { roles: ['admin'], sid: 's-1' }));
  assert.deepEqual([claims.sub, claims.roles, claims.sid, claims.jti], ['user-1', ['admin'], 's-1', 'jti-1']);
});

test('non-string and empty tokens are malformed; stats count outcomes and fetches', async () => {
  const key = await makeKey('ES256');
  const { verifier, calls } = verifierFor([key.publicJwk]);
  for (const token of [undefined, null, 42, '', {}]) assert.equal(await codeOf(verifier, token), 'ERR_TOKEN_MALFORMED');
  await verifier.verify(await sign(key));
  assert.equal(calls.length, 1, 'the injected fetch served the keys');
  const stats = verifier.stats();
  assert.deepEqual([stats.verified, stats.rejected, stats.jwksFetches, stats.keys], [1, 5, 1, 1]);
});

test('a key resolver supplies keys instead of a JWKS; the core still binds the key to its alg', async () => {
  const es = await makeKey('ES256');
  const ed = await makeKey('EdDSA');
  const local = new Map<string, { key: CryptoKey; alg: string }>();
  for (const k of [es, ed]) local.set(k.kid, { key: (await importJWK(k.publicJwk, k.alg)) as CryptoKey, alg: k.alg });
  const asked: string[] = [];
  const verifier = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    currentDate: new Date(NOW * 1000),
    fetch: async () => assert.fail('nothing is fetched with a key resolver'),
    keys: (kid, alg) => {
      asked.push(`${kid}:${alg}`);
      return local.get(kid);
    },
  });
  assert.equal(await codeOf(verifier, await sign(es)), 'valid');
  assert.equal(await codeOf(verifier, await sign(es, {}, { kid: 'nobody' })), 'ERR_UNKNOWN_KID');
  // An ES256 header naming the EdDSA key: the resolver hands the key over, the core refuses it.
  assert.equal(await codeOf(verifier, await sign(es, {}, { kid: ed.kid })), 'ERR_KEY_ALG_MISMATCH');
  // Junk is refused before the resolver is asked.
  assert.equal(
    await codeOf(verifier, await sign(es, {}, { jku: 'https://attacker.example/jwks' })),
    'ERR_KEY_REFERENCE_HEADER',
  );
  assert.equal(asked.length, 3);
  assert.equal(verifier.stats().keys, 0);

  const failing = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    currentDate: new Date(NOW * 1000),
    keys: async () => Promise.reject(new Error('vault down')),
  });
  assert.equal(
    await codeOf(failing, await sign(es)),
    'ERR_JWKS_UNAVAILABLE',
    'a failing resolver is the keys being unavailable, not a bad token',
  );
  assert.throws(
    () => createVerifier({ issuer: ISSUER, audience: AUDIENCE, keys: () => undefined, jwksUri: `${ISSUER}/jwks` }),
    TypeError,
  );
});

test('verifyJwt, the core the server shares: the typ it is told, the clock it is given, and no unusable policy', async () => {
  const key = await makeKey('ES256');
  const policy: JwtPolicy = {
    issuer: ISSUER,
    audience: AUDIENCE,
    typ: 'refresh+jwt',
    keys: async (kid) =>
      kid === key.kid ? { key: (await importJWK(key.publicJwk, key.alg)) as CryptoKey, alg: key.alg } : undefined,
  };
  const refresh = await sign(key, {}, { typ: 'refresh+jwt' });
  assert.equal((await verifyJwt(refresh, policy, NOW * 1000)).sub, 'user-1');
  await assert.rejects(
    verifyJwt(await sign(key), policy, NOW * 1000),
    (error: unknown) => error instanceof VerifierError && error.code === 'ERR_TYP',
  );
  await assert.rejects(
    verifyJwt(refresh, policy, (NOW + 3600) * 1000),
    (error: unknown) => error instanceof VerifierError && error.code === 'ERR_EXPIRED',
  );
  // jose would skip the iss check without an issuer; a string audience is one audience, not its characters.
  for (const broken of [
    { issuer: undefined },
    { issuer: '' },
    { audience: [] },
    { audience: undefined },
    { typ: '' },
    { keys: undefined },
  ]) {
    await assert.rejects(
      verifyJwt(refresh, { ...policy, ...broken } as unknown as JwtPolicy, NOW * 1000),
      TypeError,
      JSON.stringify(broken),
    );
  }
  const audH = await new SignJWT({ sub: 'user-1', jti: 'jti-1' })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'refresh+jwt' })
    .setIssuer(ISSUER)
    .setAudience('h')
    .setIssuedAt(NOW)
    .setExpirationTime(NOW + 600)
    .sign(key.privateKey);
  await assert.rejects(
    verifyJwt(audH, { ...policy, audience: 'https://h.example' }, NOW * 1000),
    (error: unknown) => error instanceof VerifierError && error.code === 'ERR_CLAIM_INVALID',
  );
});

test('options are validated up front', () => {
  assert.throws(() => createVerifier({ issuer: 'not a url', audience: AUDIENCE }), TypeError);
  assert.throws(() => createVerifier({ issuer: ISSUER, audience: [] }), TypeError);
  assert.throws(() => createVerifier({ issuer: ISSUER, audience: AUDIENCE, leeway: -1 }), TypeError);
  assert.throws(() => createVerifier({ issuer: ISSUER, audience: AUDIENCE, timeout: 0 }), TypeError);
});

test('the error codes are the stable, documented set', () => {
  for (const code of [
    'ERR_TOKEN_MALFORMED',
    'ERR_TOKEN_TOO_LARGE',
    'ERR_ALG_NOT_ALLOWED',
    'ERR_TYP',
    'ERR_KEY_REFERENCE_HEADER',
    'ERR_UNKNOWN_KID',
    'ERR_SIGNATURE',
    'ERR_CLAIM_INVALID',
    'ERR_EXPIRED',
    'ERR_NOT_YET_VALID',
    'ERR_ISSUED_IN_FUTURE',
    'ERR_REVOKED',
    'ERR_JWKS_UNAVAILABLE',
  ]) {
    assert.ok((VERIFIER_ERROR_CODES as readonly string[]).includes(code), code);
  }
  const error = new VerifierError('ERR_EXPIRED');
  assert.equal(error.name, 'VerifierError');
  assert.ok(error instanceof Error);
});
