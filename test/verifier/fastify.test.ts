// The Fastify plugin of the verifier kit, through app.inject: RFC 6750 challenges and
// bodies, scope and role checks, and nothing of the token or library in the answers.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import tesseraAuth, { getAuth, requireRole, requireScope } from '@tessera/verifier/fastify';
import { makeKey, signAccessToken, startStubIssuer } from './helpers.js';

const AUDIENCE = 'https://api.example';

async function setup(t: TestContext) {
  const stub = await startStubIssuer();
  const key = await makeKey('ES256');
  stub.keys = [key.publicJwk];
  const app = Fastify({ logger: false });
  await app.register(tesseraAuth, { issuer: stub.url, audience: AUDIENCE, jwksUri: stub.jwksUri, realm: 'example' });
  app.get('/open', async (request) => ({ auth: getAuth(request) }));
  app.get('/me', { preHandler: app.authenticate }, async (request) => ({ sub: getAuth(request)!.sub }));
  app.get('/hello', { preHandler: requireScope('profile') }, async (request) => ({ hello: getAuth(request)!.sub }));
  app.get('/reports', { preHandler: [app.authenticate, requireScope('reports:read', 'profile')] }, async () => ({
    ok: true,
  }));
  app.get('/admin', { preHandler: requireRole('admin', 'moderator') }, async (request) => ({
    admin: getAuth(request)!.sub,
  }));
  // Routes in a child plugin see the same decorators and realm.
  await app.register(
    async (child) => {
      child.get('/child', { preHandler: requireScope('profile') }, async () => ({ child: true }));
    },
    { prefix: '/nested' },
  );
  t.after(async () => {
    await app.close();
    await stub.close();
  });
  const token = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
    signAccessToken(key, { issuer: stub.url, audience: AUDIENCE, claims, header });
  return { app, stub, key, token };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

test('no token: 401 with a challenge without an error attribute', async (t) => {
  const { app } = await setup(t);
  for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }]) {
    const res = await app.inject({ method: 'GET', url: '/me', headers });
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="example"');
    assert.deepEqual(Object.keys(res.json()).sort(), ['error', 'error_description']);
  }
  const open = await app.inject({ method: 'GET', url: '/open' });
  assert.deepEqual(open.json(), { auth: null }, 'request.auth is null where nobody authenticated');
});

test('a bad token: 401 invalid_token with a generic body that echoes nothing', async (t) => {
  const { app, token, key } = await setup(t);
  const expired = await signAccessToken(key, {
    issuer: 'x',
    audience: AUDIENCE,
    iat: Math.floor(Date.now() / 1000) - 7200,
  });
  const forged = (await token({ sub: 'alice-secret-sub' })).replace(/\.[^.]+$/, '.AAAA');
  const refreshLike = await token({ sub: 'alice-secret-sub' }, { typ: 'refresh+jwt' });
  const bodies = new Set<string>();
  for (const value of [forged, expired, refreshLike, 'garbage', 'a b']) {
    const res = await app.inject({ method: 'GET', url: '/me', headers: bearer(value) });
    assert.equal(res.statusCode, 401, value);
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="example", error="invalid_token"');
    assert.equal(res.json().error, 'invalid_token');
    assert.doesNotMatch(res.body, /alice|jose|ERR_|signature|typ|exp/i);
    bodies.add(res.body);
  }
  assert.equal(bodies.size, 1, 'every refusal reads the same');
});

test('valid token: 200 and request.auth holds the verified claims', async (t) => {
  const { app, token } = await setup(t);
  const res = await app.inject({ method: 'GET', url: '/me', headers: bearer(await token({ sub: 'user-1' })) });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { sub: 'user-1' });
  const lower = await app.inject({
    method: 'GET',
    url: '/me',
    headers: { authorization: `bearer ${await token({ sub: 'user-2' })}` },
  });
  assert.equal(lower.statusCode, 200, 'the scheme name is case-insensitive');
});

test('requireScope: 403 insufficient_scope naming the scope, 200 with it', async (t) => {
  const { app, token } = await setup(t);
  const without = await app.inject({
    method: 'GET',
    url: '/hello',
    headers: bearer(await token({ scope: 'openid email' })),
  });
  assert.equal(without.statusCode, 403);
  assert.equal(
    without.headers['www-authenticate'],
    'Bearer realm="example", error="insufficient_scope", scope="profile"',
  );
  assert.equal(without.json().error, 'insufficient_scope');

  const withScope = await app.inject({
    method: 'GET',
    url: '/hello',
    headers: bearer(await token({ sub: 'u1', scope: 'openid profile' })),
  });
  assert.equal(withScope.statusCode, 200);
  assert.deepEqual(withScope.json(), { hello: 'u1' });

  const partial = await app.inject({
    method: 'GET',
    url: '/reports',
    headers: bearer(await token({ scope: 'profile' })),
  });
  assert.equal(partial.statusCode, 403, 'every listed scope is required');
  assert.equal(
    partial.headers['www-authenticate'],
    'Bearer realm="example", error="insufficient_scope", scope="reports:read profile"',
  );
  const both = await app.inject({
    method: 'GET',
    url: '/reports',
    headers: bearer(await token({ scope: 'profile reports:read' })),
  });
  assert.equal(both.statusCode, 200);

  const noToken = await app.inject({ method: 'GET', url: '/hello' });
  assert.equal(noToken.statusCode, 401, 'requireScope authenticates by itself');
  assert.equal(noToken.headers['www-authenticate'], 'Bearer realm="example"');

  const nested = await app.inject({
    method: 'GET',
    url: '/nested/child',
    headers: bearer(await token({ scope: 'email' })),
  });
  assert.equal(nested.statusCode, 403);
  assert.match(String(nested.headers['www-authenticate']), /^Bearer realm="example", /);
});

test('requireRole: 403 without one of the roles, 200 with one', async (t) => {
  const { app, token } = await setup(t);
  const user = await app.inject({ method: 'GET', url: '/admin', headers: bearer(await token({ roles: ['user'] })) });
  assert.equal(user.statusCode, 403);
  assert.equal(user.headers['www-authenticate'], 'Bearer realm="example", error="insufficient_scope"');
  const noRoles = await app.inject({
    method: 'GET',
    url: '/admin',
    headers: bearer(await token({ roles: undefined })),
  });
  assert.equal(noRoles.statusCode, 403);
  const admin = await app.inject({
    method: 'GET',
    url: '/admin',
    headers: bearer(await token({ sub: 'boss', roles: ['user', 'admin'] })),
  });
  assert.equal(admin.statusCode, 200);
  assert.deepEqual(admin.json(), { admin: 'boss' });
  const moderator = await app.inject({
    method: 'GET',
    url: '/admin',
    headers: bearer(await token({ roles: ['moderator'] })),
  });
  assert.equal(moderator.statusCode, 200, 'any one of the listed roles is enough');
});

test('issuer keys out of reach: 503, not a 401 that would make clients drop good tokens', async (t) => {
  const { app, stub, token } = await setup(t);
  const jwt = await token();
  await stub.close();
  const res = await app.inject({ method: 'GET', url: '/me', headers: bearer(jwt) });
  assert.equal(res.statusCode, 503);
  assert.equal(res.json().error, 'temporarily_unavailable');
  assert.equal(res.headers['www-authenticate'], undefined);
});

test('the plugin refuses unsafe settings and factories refuse invalid scopes', async () => {
  const app = Fastify();
  await assert.rejects(async () => {
    await app.register(tesseraAuth, { issuer: 'https://tessera.example', audience: AUDIENCE, realm: 'a"b' });
    await app.ready();
  }, TypeError);
  await app.close();
  assert.throws(() => requireScope('bad"scope'), TypeError);
  assert.throws(() => requireScope(), TypeError);
  assert.throws(() => requireRole(), TypeError);
});
