// End to end: the real Tessera app listening on 127.0.0.1, a user registered and
// logged in over HTTP, and the verifier kit (with discovery) judging its tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { build, GOOD_PASSWORD, uniqueEmail, freePort } from '../helpers/build.js';
import { createVerifier, VerifierError } from '@tessera/verifier';
import tesseraAuth, { getAuth, requireRole, requireScope } from '@tessera/verifier/fastify';

/** A port free right now (there is a small window before Tessera takes it). */

async function json(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test('the verifier accepts a real Tessera access token and refuses its refresh token', async (t) => {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const { app } = await build(t, { ISSUER: issuer, PORT: String(port) });
  await app.listen({ port, host: '127.0.0.1' });

  const email = uniqueEmail('verifier');
  const registered = await json(`${issuer}/users`, { email, password: GOOD_PASSWORD });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
  const login = await json(`${issuer}/auth/login`, { email, password: GOOD_PASSWORD });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const accessToken = String(login.body.access_token);
  const refreshToken = String(login.body.refresh_token);

  // Tessera's default audience is the issuer itself.
  const verifier = createVerifier({ issuer, audience: issuer });
  t.after(() => verifier.close());
  const claims = await verifier.verify(accessToken);
  assert.equal(claims.iss, issuer);
  assert.equal(typeof claims.sub, 'string');
  assert.equal(typeof claims.sid, 'string');
  assert.ok(claims.roles?.includes('user'));
  assert.match(String(claims.scope), /\bprofile\b/);

  await assert.rejects(
    verifier.verify(refreshToken),
    (error: unknown) => error instanceof VerifierError && error.code === 'ERR_TYP',
  );
  const stats = verifier.stats();
  assert.equal(stats.discoveryFetches, 1, 'jwks_uri came from discovery');
  assert.equal(stats.jwksFetches, 1);
  assert.deepEqual([stats.verified, stats.rejected], [1, 1]);

  // A verifier for another audience refuses the same token.
  const other = createVerifier({ issuer, audience: 'https://other-api.example' });
  t.after(() => other.close());
  await assert.rejects(
    other.verify(accessToken),
    (error: unknown) => error instanceof VerifierError && error.code === 'ERR_CLAIM_INVALID',
  );

  // And a resource service built with the plugin, as in examples/resource-service.ts.
  const resource = Fastify({ logger: false });
  t.after(() => resource.close());
  await resource.register(tesseraAuth, { issuer, audience: issuer, realm: 'example' });
  resource.get('/hello', { preHandler: requireScope('profile') }, async (request) => ({
    hello: getAuth(request)!.sub,
  }));
  resource.get('/admin', { preHandler: requireRole('admin') }, async () => ({ ok: true }));
  const hello = await resource.inject({
    method: 'GET',
    url: '/hello',
    headers: { authorization: `Bearer ${accessToken}` },
  });
  assert.equal(hello.statusCode, 200);
  assert.deepEqual(hello.json(), { hello: claims.sub });
  const admin = await resource.inject({
    method: 'GET',
    url: '/admin',
    headers: { authorization: `Bearer ${accessToken}` },
  });
  assert.equal(admin.statusCode, 403, 'a plain user is no admin');
  const withRefresh = await resource.inject({
    method: 'GET',
    url: '/hello',
    headers: { authorization: `Bearer ${refreshToken}` },
  });
  assert.equal(withRefresh.statusCode, 401);
});
