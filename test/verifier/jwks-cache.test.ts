// The verifier's JWKS cache against a real local HTTP issuer: max-age, ETag
// revalidation, the unknown-kid cooldown, an issuer that is down or answers garbage,
// key rotation, and discovery.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createVerifier, VerifierError, type Verifier, type VerifierOptions } from '@tessera/verifier';
import { makeKey, manualClock, signAccessToken, startStubIssuer, type StubIssuer, type TestKey } from './helpers.js';

const AUDIENCE = 'https://api.example';

async function setup(t: TestContext, options: Partial<VerifierOptions> = {}) {
  const stub = await startStubIssuer();
  const key = await makeKey('ES256');
  stub.keys = [key.publicJwk];
  const clock = manualClock();
  const verifier = createVerifier({
    issuer: stub.url,
    audience: AUDIENCE,
    jwksUri: stub.jwksUri,
    now: clock.now,
    ...options,
  });
  t.after(async () => {
    await verifier.close();
    await stub.close();
  });
  const token = (k: TestKey = key, claims: Record<string, unknown> = {}) =>
    signAccessToken(k, { issuer: stub.url, audience: AUDIENCE, iat: clock.seconds(), claims });
  return { stub, key, clock, verifier, token };
}

async function codeOf(verifier: Verifier, token: string): Promise<string> {
  try {
    await verifier.verify(token);
    return 'valid';
  } catch (error) {
    assert.ok(error instanceof VerifierError);
    return error.code;
  }
}

/** Waits (bounded) for background work to reach a state. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Tokens signed with an unpublished key, each with a random kid. */
async function randomKidTokens(stub: StubIssuer, clock: { seconds(): number }, n: number): Promise<string[]> {
  const rogue = await makeKey('ES256');
  return Promise.all(
    Array.from({ length: n }, () =>
      signAccessToken(
        { ...rogue, kid: randomBytes(16).toString('base64url') },
        { issuer: stub.url, audience: AUDIENCE, iat: clock.seconds() },
      ),
    ),
  );
}

test('keys are cached for the max-age the issuer sends, then revalidated with If-None-Match', async (t) => {
  const { stub, clock, verifier, token } = await setup(t);
  stub.cacheControl = 'public, max-age=60';
  const jwt = await token();
  for (let i = 0; i < 20; i++) await verifier.verify(jwt);
  assert.equal(stub.count('/jwks.json'), 1, 'one fetch serves many verifications');
  assert.equal(stub.requests[0]!.headers['if-none-match'], undefined, 'the first fetch is unconditional');

  clock.advance(59);
  await verifier.verify(jwt);
  assert.equal(stub.count('/jwks.json'), 1, 'still fresh at 59 s');

  clock.advance(2);
  await verifier.verify(jwt);
  assert.equal(stub.count('/jwks.json'), 2, 'expired at 61 s: revalidated');
  const revalidation = stub.requests.filter((r) => r.path === '/jwks.json')[1]!;
  assert.match(String(revalidation.headers['if-none-match']), /^".+"$/);
  assert.equal(verifier.stats().jwksNotModified, 1, 'the unchanged JWKS answered 304');
  assert.equal(verifier.stats().keys, 1, 'a 304 keeps the keys');

  // The 304 renewed the age: another 60 s without a fetch.
  clock.advance(59);
  await verifier.verify(jwt);
  assert.equal(stub.count('/jwks.json'), 2);
  clock.advance(2);
  await verifier.verify(jwt);
  assert.equal(stub.count('/jwks.json'), 3);
  assert.equal(verifier.stats().jwksFetches, 3);
});

test('max-age is bounded to 24 h, defaults to 5 min when absent, and no-cache means revalidate each time', async (t) => {
  const { stub, clock, verifier, token } = await setup(t);
  stub.cacheControl = 'max-age=31536000';
  await verifier.verify(await token());
  clock.advance(24 * 3600 - 10);
  await verifier.verify(await token());
  assert.equal(stub.count('/jwks.json'), 1);
  clock.advance(11);
  stub.cacheControl = null;
  await verifier.verify(await token());
  assert.equal(stub.count('/jwks.json'), 2, 'a year is cut to 24 h');

  clock.advance(299);
  await verifier.verify(await token());
  assert.equal(stub.count('/jwks.json'), 2, 'no Cache-Control: 5 min');
  clock.advance(2);
  stub.cacheControl = 'no-cache';
  await verifier.verify(await token());
  assert.equal(stub.count('/jwks.json'), 3);
  await verifier.verify(await token());
  assert.equal(stub.count('/jwks.json'), 4, 'no-cache: every verification revalidates');
});

test('without an ETag the JWKS is fetched in full again when it expires', async (t) => {
  const { stub, clock, verifier, token } = await setup(t);
  stub.etags = false;
  stub.cacheControl = 'max-age=10';
  await verifier.verify(await token());
  clock.advance(11);
  await verifier.verify(await token());
  assert.equal(stub.count('/jwks.json'), 2);
  assert.equal(stub.requests[1]!.headers['if-none-match'], undefined);
  assert.equal(verifier.stats().jwksNotModified, 0);
});

test('a flood of 500 random kids costs at most one fetch per cooldown, shared by all callers', async (t) => {
  const { stub, clock, verifier, token } = await setup(t);
  const good = await token();
  const flood = await randomKidTokens(stub, clock, 500);

  // Concurrent, before anything is cached: every caller shares the first fetch.
  const codes = await Promise.all(flood.map((jwt) => codeOf(verifier, jwt)));
  assert.deepEqual(new Set(codes), new Set(['ERR_UNKNOWN_KID']));
  assert.equal(stub.count('/jwks.json'), 1);

  // Sequential, within the cooldown: no fetch at all, and good tokens still pass.
  clock.advance(10);
  for (const jwt of flood) assert.equal(await codeOf(verifier, jwt), 'ERR_UNKNOWN_KID');
  assert.equal(await codeOf(verifier, good), 'valid');
  assert.equal(stub.count('/jwks.json'), 1);

  // After the cooldown (30 s by default), one more fetch for the whole flood.
  clock.advance(21);
  await Promise.all(flood.map((jwt) => codeOf(verifier, jwt)));
  assert.equal(stub.count('/jwks.json'), 2);
  assert.equal(verifier.stats().jwksFetches, 2);
});

test('the cooldown is an option', async (t) => {
  const { stub, clock, verifier } = await setup(t, { cooldown: 5 });
  const [a, b, c] = await randomKidTokens(stub, clock, 3);
  await codeOf(verifier, a!);
  clock.advance(4);
  await codeOf(verifier, b!);
  assert.equal(stub.count('/jwks.json'), 1);
  clock.advance(2);
  await codeOf(verifier, c!);
  assert.equal(stub.count('/jwks.json'), 2);
});

test('a rotated-in key is picked up on its unknown kid; a withdrawn key stops verifying when the cache expires', async (t) => {
  const { stub, clock, verifier, token, key } = await setup(t);
  stub.cacheControl = 'max-age=300';
  const oldToken = await token();
  await verifier.verify(oldToken);

  const next = await makeKey('EdDSA');
  stub.keys = [key.publicJwk, next.publicJwk];
  const newToken = await token(next);
  assert.equal(await codeOf(verifier, newToken), 'ERR_UNKNOWN_KID', 'within the cooldown of the first fetch');
  clock.advance(31);
  assert.equal(await codeOf(verifier, newToken), 'valid', 'refetched on the unknown kid');
  assert.equal(stub.count('/jwks.json'), 2);

  // The old key is revoked: it leaves the JWKS, and the verifier follows at expiry.
  stub.keys = [next.publicJwk];
  assert.equal(await codeOf(verifier, oldToken), 'valid', 'still cached');
  clock.advance(301);
  assert.equal(await codeOf(verifier, oldToken), 'ERR_UNKNOWN_KID');
  assert.equal(await codeOf(verifier, await token(next)), 'valid');
});

test('issuer down: cached keys keep verifying (stale), unknown kids fail, retries stay rare', async (t) => {
  const { stub, clock, verifier, token } = await setup(t);
  stub.cacheControl = 'max-age=60';
  await verifier.verify(await token());
  await stub.close();

  clock.advance(120); // the cache is stale now
  assert.equal(await codeOf(verifier, await token()), 'valid', 'stale keys serve while the issuer is down');
  assert.equal(verifier.stats().jwksFailures, 1);

  const flood = await randomKidTokens(stub, clock, 200);
  const codes = await Promise.all(flood.map((jwt) => codeOf(verifier, jwt)));
  for (const code of codes) assert.ok(code === 'ERR_UNKNOWN_KID' || code === 'ERR_JWKS_UNAVAILABLE', code);
  for (let i = 0; i < 50; i++) assert.equal(await codeOf(verifier, await token()), 'valid');
  assert.equal(verifier.stats().jwksFetches, 2, 'no retry before the retry time');

  clock.advance(6);
  assert.equal(await codeOf(verifier, await token()), 'valid');
  assert.equal(verifier.stats().jwksFetches, 3, 'one retry after it');
  await until(() => verifier.stats().jwksFailures === 2, 'the retry to fail');
});

test('garbage and errors from the issuer keep the cached keys; an empty JWKS replaces them', async (t) => {
  const { stub, clock, verifier, token } = await setup(t);
  stub.cacheControl = 'max-age=10';
  await verifier.verify(await token());
  let failures = 0;
  for (const mode of ['garbage', 'error'] as const) {
    stub.mode = mode;
    clock.advance(60);
    assert.equal(await codeOf(verifier, await token()), 'valid', mode);
    failures += 1;
    await until(() => verifier.stats().jwksFailures === failures, `the ${mode} fetch to fail`);
  }
  assert.equal(verifier.stats().keys, 1);

  // A JWKS with no usable keys at all is a valid answer, not garbage: it replaces the set.
  stub.mode = 'ok';
  stub.keys = [];
  clock.advance(60);
  await codeOf(verifier, await token());
  await until(() => verifier.stats().keys === 0, 'the empty JWKS to land');
  assert.equal(await codeOf(verifier, await token()), 'ERR_UNKNOWN_KID');
});

test('a hanging issuer holds up one verification for the fetch timeout, then none', async (t) => {
  const { stub, clock, verifier, token } = await setup(t, { timeout: 1 });
  stub.cacheControl = 'max-age=10';
  await verifier.verify(await token());
  stub.mode = 'hang';
  clock.advance(60);
  const started = performance.now();
  assert.equal(await codeOf(verifier, await token()), 'valid');
  const waited = performance.now() - started;
  assert.ok(
    waited >= 900 && waited < 4000,
    `the first stale verification waited for the timeout (${Math.round(waited)} ms)`,
  );
  assert.equal(verifier.stats().jwksFailures, 1);

  // The issuer is known to be in trouble: the retry runs in the background.
  clock.advance(6);
  assert.equal(await codeOf(verifier, await token()), 'valid');
  assert.equal(verifier.stats().jwksFetches, 3, 'the retry started');
  assert.equal(verifier.stats().jwksFailures, 1, 'and the verification did not wait for it');
  await until(() => verifier.stats().jwksFailures === 2, 'the retry to time out');
});

test('issuer unreachable before any key was fetched: ERR_JWKS_UNAVAILABLE, without a fetch per token', async (t) => {
  const { stub, clock, verifier, token } = await setup(t);
  const jwt = await token();
  await stub.close();
  const codes = await Promise.all(Array.from({ length: 100 }, () => codeOf(verifier, jwt)));
  assert.deepEqual(new Set(codes), new Set(['ERR_JWKS_UNAVAILABLE']));
  for (let i = 0; i < 100; i++) assert.equal(await codeOf(verifier, jwt), 'ERR_JWKS_UNAVAILABLE');
  assert.equal(verifier.stats().jwksFetches, 1);
  clock.advance(6);
  await codeOf(verifier, jwt);
  assert.equal(verifier.stats().jwksFetches, 2);
});

test('tokens refused on their header alone never cause a JWKS fetch', async (t) => {
  const { stub, verifier, key, clock } = await setup(t);
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const junk = [
    'not a token',
    'a.b',
    'x'.repeat(9000),
    await signAccessToken(key, {
      issuer: stub.url,
      audience: AUDIENCE,
      iat: clock.seconds(),
      header: { typ: 'refresh+jwt', kid: 'unknown-1' },
    }),
    await signAccessToken(key, {
      issuer: stub.url,
      audience: AUDIENCE,
      iat: clock.seconds(),
      header: { jku: `${stub.url}/evil`, kid: 'unknown-2' },
    }),
    `${b64({ alg: 'HS256', typ: 'at+jwt', kid: 'unknown-3' })}.${b64({ sub: 'x' })}.c2lnbmF0dXJl`,
    `${b64({ alg: 'ES256', typ: 'at+jwt' })}.${b64({ sub: 'x' })}.c2lnbmF0dXJl`,
    `${b64({ alg: 'ES256', typ: 'at+jwt', kid: 'unknown-4' })}.${b64({ sub: 'x' })}.`,
  ];
  for (const jwt of junk) assert.notEqual(await codeOf(verifier, jwt), 'valid');
  assert.equal(stub.count('/jwks.json'), 0);
  assert.equal(verifier.stats().rejected, junk.length);
});

test('discovery: jwks_uri comes from the metadata, fetched once', async (t) => {
  const stub = await startStubIssuer();
  const key = await makeKey('ES256');
  stub.keys = [key.publicJwk];
  const verifier = createVerifier({ issuer: stub.url, audience: AUDIENCE });
  t.after(async () => {
    await verifier.close();
    await stub.close();
  });
  const jwt = await signAccessToken(key, { issuer: stub.url, audience: AUDIENCE });
  assert.equal((await verifier.verify(jwt)).iss, stub.url);
  assert.equal(stub.count('/.well-known/oauth-authorization-server'), 1);
  assert.equal(stub.count('/jwks.json'), 1);
  assert.equal(verifier.stats().discoveryFetches, 1);
});

test('discovery: metadata naming another issuer is refused, and its keys are never fetched', async (t) => {
  const stub = await startStubIssuer();
  const key = await makeKey('ES256');
  stub.keys = [key.publicJwk];
  stub.metadataIssuer = 'https://evil.example';
  const verifier = createVerifier({ issuer: stub.url, audience: AUDIENCE });
  t.after(async () => {
    await verifier.close();
    await stub.close();
  });
  const jwt = await signAccessToken(key, { issuer: stub.url, audience: AUDIENCE });
  assert.equal(await codeOf(verifier, jwt), 'ERR_JWKS_UNAVAILABLE');
  assert.equal(stub.count('/jwks.json'), 0);
});

test('a kid published twice is ambiguous and not used; private and symmetric keys are ignored', async (t) => {
  const { stub, clock, verifier, key, token } = await setup(t);
  const other = await makeKey('ES256');
  stub.keys = [
    key.publicJwk,
    { ...other.publicJwk, kid: key.kid },
    { kty: 'oct', kid: 'hmac', alg: 'HS256', k: 'c2VjcmV0' },
  ];
  assert.equal(await codeOf(verifier, await token()), 'ERR_UNKNOWN_KID');
  assert.equal(verifier.stats().keys, 0);
  stub.keys = [key.publicJwk];
  clock.advance(301);
  assert.equal(await codeOf(verifier, await token()), 'valid');
});
