// The verifier kit fetches keys and revocations over https: only. http: is taken for an
// issuer on this machine (localhost, 127.0.0.0/8, ::1) or with allowInsecureHttp: true;
// the issuer, jwksUri, the revocation URL and a jwks_uri found by discovery are all held
// to that. "Remote" hosts are names under .test that a fetch wrapper routes to a stand-in
// issuer on 127.0.0.1, so a verifier that went ahead anyway would succeed and fail the test.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { createVerifier, JwksCache, RevocationList, VerifierError, type FetchLike } from '@tessera/verifier';
import tesseraAuth from '@tessera/verifier/fastify';
import tesseraAuthExpress from '@tessera/verifier/express';
import { makeKey, signAccessToken, startStubIssuer, type StubIssuer } from './helpers.js';

const AUDIENCE = 'https://api.example';
const REMOTE = 'http://issuer.tessera.test';
const INSECURE = /must be https: \(http: only on loopback, or with allowInsecureHttp: true\)/;

/** A fetch that sends the .test hosts to the stand-in and records every URL asked for. */
function routedFetch(stub: StubIssuer, asked: string[]): FetchLike {
  return (input, init) => {
    const url = new URL(String(input));
    asked.push(url.href);
    if (url.hostname.endsWith('.tessera.test')) {
      const target = new URL(stub.url);
      url.protocol = target.protocol;
      url.host = target.host;
    }
    return fetch(url, init);
  };
}

async function stubWithKey(t: TestContext) {
  const stub = await startStubIssuer();
  t.after(() => stub.close());
  const key = await makeKey('ES256');
  stub.keys = [key.publicJwk];
  return { stub, key };
}

test('the verifier refuses an http issuer unless loopback or allowed', async (t) => {
  const { stub, key } = await stubWithKey(t);
  const asked: string[] = [];
  const fetchImpl = routedFetch(stub, asked);
  const revocation = { clientId: 'rs', clientSecret: 'rs-secret' };

  // Refused at creation, before anything is fetched: issuer, jwksUri, revocation URL.
  const refused: [string, Parameters<typeof createVerifier>[0]][] = [
    ['an http issuer', { issuer: REMOTE, audience: AUDIENCE, fetch: fetchImpl }],
    [
      'an http issuer with an https jwksUri',
      { issuer: REMOTE, audience: AUDIENCE, jwksUri: 'https://keys.tessera.test/jwks.json', fetch: fetchImpl },
    ],
    [
      'an http jwksUri',
      {
        issuer: 'https://id.tessera.test',
        audience: AUDIENCE,
        jwksUri: 'http://keys.tessera.test/jwks.json',
        fetch: fetchImpl,
      },
    ],
    [
      'an http revocation URL',
      {
        issuer: 'https://id.tessera.test',
        audience: AUDIENCE,
        revocation: { ...revocation, url: 'http://id.tessera.test/oauth/revoked' },
        fetch: fetchImpl,
      },
    ],
    [
      '127.0.0.1 in another host name',
      { issuer: 'http://127.0.0.1.tessera.test', audience: AUDIENCE, fetch: fetchImpl },
    ],
    [
      'allowInsecureHttp that is not a boolean',
      { issuer: REMOTE, audience: AUDIENCE, allowInsecureHttp: 'yes' as unknown as boolean },
    ],
  ];
  for (const [what, options] of refused) assert.throws(() => createVerifier(options), TypeError, what);
  assert.throws(() => createVerifier({ issuer: REMOTE, audience: AUDIENCE }), INSECURE);
  assert.throws(
    () => createVerifier({ issuer: 'ftp://id.tessera.test', audience: AUDIENCE }),
    /absolute http\(s\) URL/,
  );
  assert.throws(() => new JwksCache({ issuer: REMOTE, fetch: fetchImpl }), INSECURE);
  assert.throws(
    () => new RevocationList('https://id.tessera.test', { ...revocation, url: 'http://id.tessera.test/r' }),
    INSECURE,
  );
  assert.throws(() => new RevocationList(REMOTE, revocation, { fetch: fetchImpl }), INSECURE);
  // The framework adapters pass the options on: refused there too.
  assert.throws(() => tesseraAuthExpress({ issuer: REMOTE, audience: AUDIENCE }), INSECURE);
  const app = Fastify();
  t.after(() => app.close());
  await assert.rejects(async () => {
    await app.register(tesseraAuth, { issuer: REMOTE, audience: AUDIENCE });
    await app.ready();
  }, INSECURE);
  assert.deepEqual(asked, [], 'nothing was fetched');

  // Loopback issuers over http: are fine, in every strict spelling.
  const port = new URL(stub.url).port;
  for (const host of ['127.0.0.1', 'localhost', '[::1]', '127.0.0.53']) {
    const verifier = createVerifier({ issuer: `http://${host}:${port}`, audience: AUDIENCE, revocation });
    await verifier.close();
  }
  const loopback = createVerifier({ issuer: stub.url, audience: AUDIENCE });
  t.after(() => loopback.close());
  assert.equal(
    (await loopback.verify(await signAccessToken(key, { issuer: stub.url, audience: AUDIENCE }))).iss,
    stub.url,
  );

  // allowInsecureHttp: true takes a remote http: issuer, and it really works over http:.
  stub.metadataIssuer = REMOTE;
  const allowed = createVerifier({ issuer: REMOTE, audience: AUDIENCE, fetch: fetchImpl, allowInsecureHttp: true });
  t.after(() => allowed.close());
  const claims = await allowed.verify(await signAccessToken(key, { issuer: REMOTE, audience: AUDIENCE }));
  assert.equal(claims.iss, REMOTE);
  assert.deepEqual(asked, [`${REMOTE}/.well-known/oauth-authorization-server`, `${stub.url}/jwks.json`]);
});

test('a jwks_uri found by discovery is held to the same rule', async (t) => {
  const { stub, key } = await stubWithKey(t);
  const asked: string[] = [];
  // The loopback issuer's metadata sends the keys to a remote http: URL.
  stub.jwksUri = 'http://keys.tessera.test/jwks.json';
  const errors: string[] = [];
  const verifier = createVerifier({
    issuer: stub.url,
    audience: AUDIENCE,
    fetch: routedFetch(stub, asked),
    onError: (error) => errors.push(error.message),
  });
  t.after(() => verifier.close());
  const token = await signAccessToken(key, { issuer: stub.url, audience: AUDIENCE });
  await assert.rejects(
    verifier.verify(token),
    (error: unknown) => error instanceof VerifierError && error.code === 'ERR_JWKS_UNAVAILABLE',
  );
  assert.equal(stub.count('/jwks.json'), 0, 'the keys were never fetched');
  assert.ok(!asked.includes(stub.jwksUri));
  assert.ok(
    errors.some((m) => INSECURE.test(m) && m.startsWith('discovered jwks_uri')),
    errors.join('; '),
  );

  const allowed = createVerifier({
    issuer: stub.url,
    audience: AUDIENCE,
    fetch: routedFetch(stub, asked),
    allowInsecureHttp: true,
  });
  t.after(() => allowed.close());
  assert.equal((await allowed.verify(token)).iss, stub.url, 'allowed explicitly: the discovered URL is used');
  assert.equal(stub.count('/jwks.json'), 1);
});
