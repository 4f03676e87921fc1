// The Connect/Express middleware of the verifier kit, on a real node:http server with a
// minimal Connect-style chain: the same RFC 6750 answers as the Fastify plugin, req.auth,
// and checks that trust only claims the middleware itself verified.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import tesseraAuth, { getAuth, type AuthenticatedRequest, type Middleware } from '@tessera/verifier/express';
import { makeKey, signAccessToken, startStubIssuer } from './helpers.js';

const AUDIENCE = 'https://api.example';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Runs the middleware in order, as Connect does, then the handler; next(error) answers 500. */
function chain(...steps: [...Middleware[], Handler]): Handler {
  const handler = steps.pop() as Handler;
  const middleware = steps as Middleware[];
  return (req, res) => {
    const run = (index: number) => (error?: unknown) => {
      if (error) {
        res.statusCode = 500;
        res.end();
      } else if (index === middleware.length) handler(req, res);
      else middleware[index]!(req, res, run(index + 1));
    };
    run(0)();
  };
}

const json = (res: ServerResponse, body: unknown) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
};

async function setup(t: TestContext) {
  const stub = await startStubIssuer();
  const key = await makeKey('ES256');
  stub.keys = [key.publicJwk];
  const auth = tesseraAuth({ issuer: stub.url, audience: AUDIENCE, jwksUri: stub.jwksUri, realm: 'example' });
  const other = tesseraAuth({ issuer: stub.url, audience: 'https://other-api.example', jwksUri: stub.jwksUri });
  const refused: string[] = [];
  const logged = tesseraAuth({
    issuer: stub.url,
    audience: AUDIENCE,
    jwksUri: stub.jwksUri,
    onRefused: (error) => refused.push(error.code),
  });
  /** Someone else's middleware that writes req.auth, as express-jwt does. */
  const impostor: Middleware = (req, _res, next) => {
    (req as AuthenticatedRequest).auth = { sub: 'mallory', roles: ['admin'], scope: 'profile' } as never;
    next();
  };
  const routes: Record<string, Handler> = {
    '/open': chain((req, res) => json(res, { auth: getAuth(req) })),
    '/me': chain(auth, (req, res) =>
      json(res, {
        sub: (req as AuthenticatedRequest).auth!.sub,
        same: getAuth(req) === (req as AuthenticatedRequest).auth,
      }),
    ),
    '/hello': chain(auth.requireScope('profile'), (req, res) => json(res, { hello: getAuth(req)!.sub })),
    '/reports': chain(auth, auth.requireScope('reports:read', 'profile'), (_req, res) => json(res, { ok: true })),
    '/admin': chain(auth.requireRole('admin', 'moderator'), (req, res) => json(res, { admin: getAuth(req)!.sub })),
    '/forged-admin': chain(impostor, auth.requireRole('admin'), (_req, res) => json(res, { ok: true })),
    '/other-api': chain(auth, other.requireScope('profile'), (_req, res) => json(res, { ok: true })),
    '/logged': chain(logged, (_req, res) => json(res, { ok: true })),
  };
  const server = createServer((req, res) => {
    const route = routes[new URL(req.url ?? '/', 'http://x').pathname];
    if (route) route(req, res);
    else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await Promise.all([auth.close(), other.close(), logged.close()]);
    await stub.close();
  });
  const token = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
    signAccessToken(key, { issuer: stub.url, audience: AUDIENCE, claims, header });
  const get = async (path: string, authorization?: string) => {
    const res = await fetch(`${base}${path}`, { headers: authorization ? { authorization } : {} });
    const body = await res.text();
    return { status: res.status, headers: res.headers, body, json: () => JSON.parse(body) as Record<string, unknown> };
  };
  return { stub, key, token, get, refused };
}

test('no token: 401 with a challenge without an error attribute; a bad one: 401 invalid_token, generic', async (t) => {
  const { get, token, key, stub } = await setup(t);
  for (const authorization of [undefined, 'Basic dXNlcjpwYXNz']) {
    const res = await get('/me', authorization);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="example"');
    assert.match(String(res.headers.get('content-type')), /^application\/json/);
    assert.deepEqual(Object.keys(res.json()).sort(), ['error', 'error_description']);
  }
  assert.deepEqual((await get('/open')).json(), { auth: null });

  const expired = await signAccessToken(key, {
    issuer: stub.url,
    audience: AUDIENCE,
    iat: Math.floor(Date.now() / 1000) - 7200,
  });
  const forged = (await token({ sub: 'alice-secret-sub' })).replace(/\.[^.]+$/, '.AAAA');
  const refreshLike = await token({ sub: 'alice-secret-sub' }, { typ: 'refresh+jwt' });
  const bodies = new Set<string>();
  for (const value of [forged, expired, refreshLike, 'garbage', 'a b']) {
    const res = await get('/me', `Bearer ${value}`);
    assert.equal(res.status, 401, value);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="example", error="invalid_token"');
    assert.doesNotMatch(res.body, /alice|jose|ERR_|signature|typ|exp/i);
    bodies.add(res.body);
  }
  assert.equal(bodies.size, 1, 'every refusal reads the same');
});

test('valid token: next() runs with the claims on req.auth and from getAuth', async (t) => {
  const { get, token } = await setup(t);
  const res = await get('/me', `Bearer ${await token({ sub: 'user-1' })}`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.json(), { sub: 'user-1', same: true });
  assert.equal(
    (await get('/me', `bearer ${await token({ sub: 'user-2' })}`)).status,
    200,
    'the scheme name is case-insensitive',
  );
});

test('requireScope and requireRole: 403 insufficient_scope, 200 with them, and they authenticate by themselves', async (t) => {
  const { get, token } = await setup(t);
  const without = await get('/hello', `Bearer ${await token({ scope: 'openid email' })}`);
  assert.equal(without.status, 403);
  assert.equal(
    without.headers.get('www-authenticate'),
    'Bearer realm="example", error="insufficient_scope", scope="profile"',
  );
  assert.equal(without.json().error, 'insufficient_scope');
  assert.deepEqual((await get('/hello', `Bearer ${await token({ sub: 'u1', scope: 'openid profile' })}`)).json(), {
    hello: 'u1',
  });
  const partial = await get('/reports', `Bearer ${await token({ scope: 'profile' })}`);
  assert.equal(partial.status, 403, 'every listed scope is required');
  assert.equal(
    partial.headers.get('www-authenticate'),
    'Bearer realm="example", error="insufficient_scope", scope="reports:read profile"',
  );
  assert.equal((await get('/reports', `Bearer ${await token({ scope: 'profile reports:read' })}`)).status, 200);
  const noToken = await get('/hello');
  assert.equal(noToken.status, 401);
  assert.equal(noToken.headers.get('www-authenticate'), 'Bearer realm="example"');

  const user = await get('/admin', `Bearer ${await token({ roles: ['user'] })}`);
  assert.equal(user.status, 403);
  assert.equal(user.headers.get('www-authenticate'), 'Bearer realm="example", error="insufficient_scope"');
  assert.deepEqual((await get('/admin', `Bearer ${await token({ sub: 'boss', roles: ['user', 'admin'] })}`)).json(), {
    admin: 'boss',
  });
  assert.equal(
    (await get('/admin', `Bearer ${await token({ roles: ['moderator'] })}`)).status,
    200,
    'any one listed role is enough',
  );
});

test('checks trust only claims their own middleware verified', async (t) => {
  const { get, token } = await setup(t);
  // req.auth written by another middleware grants nothing: no token, no entry.
  assert.equal((await get('/forged-admin')).status, 401);
  // Claims verified for this API do not satisfy another API's check: it verifies for its own audience.
  const res = await get('/other-api', `Bearer ${await token({ scope: 'profile' })}`);
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="https://other-api.example", error="invalid_token"');
});

test('issuer keys out of reach: 503 with Retry-After; refusals reach onRefused by code', async (t) => {
  const { get, token, stub, refused } = await setup(t);
  await get('/logged', 'Bearer garbage');
  await get('/logged');
  assert.deepEqual(refused, ['ERR_TOKEN_MALFORMED'], 'a request without a token is not a refused token');
  const jwt = await token();
  await stub.close();
  const res = await get('/me', `Bearer ${jwt}`);
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('retry-after'), '5');
  assert.equal(res.json().error, 'temporarily_unavailable');
  assert.equal(res.headers.get('www-authenticate'), null);
});

test('unsafe settings and invalid scopes or roles are refused up front', () => {
  assert.throws(() => tesseraAuth({ issuer: 'https://tessera.example', audience: AUDIENCE, realm: 'a"b' }), TypeError);
  const auth = tesseraAuth({ issuer: 'https://tessera.example', audience: AUDIENCE });
  assert.throws(() => auth.requireScope('bad"scope'), TypeError);
  assert.throws(() => auth.requireScope(), TypeError);
  assert.throws(() => auth.requireRole(), TypeError);
});
