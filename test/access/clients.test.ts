// Confidential clients: registration by admins (POST /admin/clients) and by the CLI,
// the secret shown once and stored only as a hash, the client_credentials grant with
// client_secret_basic and client_secret_post, its failures, and its token accepted by a
// resource service using the verifier kit against a really listening Tessera.
import { describe, it, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { build, userWithRoles, type Built, freePort } from '../helpers/build.js';
import { tessera } from '../helpers/cli.js';
import { WITHOUT_LIMITS } from '../routes/suite-app.js';
import { createVerifier, VerifierError } from '@tessera/verifier';
import tesseraAuth, { getAuth, requireRole, requireScope } from '@tessera/verifier/fastify';
import { assertError, basic, FORM, form, introspect, type TestClient } from './helpers.js';

const REPORTS = 'https://reports.example';
const SECRET = /^[A-Za-z0-9_-]{43,}$/;
const CLIENT_ID = /^[A-Za-z0-9_-]{16,64}$/;
/** What registration answers for a confidential client (test/clients covers public ones). */
const CLIENT_KEYS = [
  'can_introspect',
  'client_id',
  'client_secret',
  'created_at',
  'disabled',
  'first_party',
  'grant_types',
  'introspect',
  'name',
  'post_logout_redirect_uris',
  'previous_secret_expires_at',
  'redirect_uris',
  'require_pkce',
  'scope',
  'scopes',
  'secret_rotated_at',
  'type',
  'updated_at',
];

// ---------------------------------------------------------------------------------
// The CLI, run for real against this file's database (as test/cli does).
// ---------------------------------------------------------------------------------

/** Filled by the CLI test, used once the app is up. */
let cliClient: (TestClient & { scope: string }) | undefined;

// These run before the app below opens the database (the embedded one has one user at a
// time); side by side, since only the first opens it.
test('tessera clients create', { concurrency: true }, async (t) => {
  const created = t.test('registers a client and prints its secret once', async () => {
    const result = await tessera(['clients', 'create', '--name', 'Nightly export', '--scope', 'a b', '--introspect']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const lines = result.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, 'one line of JSON');
    const printed = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(printed).sort(), CLIENT_KEYS);
    assert.match(String(printed.client_id), CLIENT_ID);
    assert.match(String(printed.client_secret), SECRET);
    assert.ok(Buffer.from(String(printed.client_secret), 'base64url').length >= 32, 'at least 256 bits');
    assert.equal(printed.name, 'Nightly export');
    assert.equal(printed.scope, 'a b');
    assert.deepEqual(printed.grant_types, ['client_credentials']);
    assert.equal(printed.introspect, true);
    cliClient = { id: String(printed.client_id), secret: String(printed.client_secret), scope: String(printed.scope) };
  });
  // Bad usage stops before any database is opened; a few cases suffice (test/cli covers the parser).
  const cases: [string, string[]][] = [
    ['no --name', ['clients', 'create', '--scope', 'a']],
    ['an unknown option', ['clients', 'create', '--name', 'N', '--scope', 'a', '--secret', 'chosen']],
    [
      'a grant other than client_credentials',
      ['clients', 'create', '--name', 'N', '--scope', 'a', '--grant', 'password'],
    ],
  ];
  await Promise.all([
    created,
    ...cases.map(([what, args]) =>
      t.test(`with ${what}: bad usage, exit 2 and the usage text`, async () => {
        const result = await tessera(args);
        assert.equal(result.code, 2, `${what}: ${result.stderr}`);
        assert.match(result.stderr, /^tessera: .+\nusage: tessera/);
        assert.equal(result.stdout, '');
      }),
    ),
  ]);
});

// ---------------------------------------------------------------------------------
// Over HTTP, with Tessera listening on 127.0.0.1 so a verifier can discover its keys.
// ---------------------------------------------------------------------------------

interface Created {
  client_id: string;
  client_secret: string;
  name: string;
  scope: string;
  grant_types: string[];
  introspect: boolean;
}

describe('clients over HTTP', () => {
  let built: Built;
  let issuer: string;
  let adminAuth: Record<string, string>;
  const closers: Array<() => Promise<void>> = [];
  const app = () => built.app;

  before(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    built = await build(
      { after: (fn: () => Promise<void>) => void closers.push(fn) },
      {
        ...WITHOUT_LIMITS,
        ISSUER: issuer,
        PORT: String(port),
        AUDIENCES: REPORTS,
      },
    );
    await built.app.listen({ port, host: '127.0.0.1' });
    adminAuth = (await userWithRoles(built, ['admin'])).auth;
  });
  after(async () => {
    for (const fn of closers.reverse()) await fn();
  });

  const register = (payload: Record<string, unknown>, headers: Record<string, string> = adminAuth) =>
    app().inject({ method: 'POST', url: '/admin/clients', headers, payload });
  const registered = async (payload: Record<string, unknown>): Promise<Created> => {
    const res = await register(payload);
    assert.equal(res.statusCode, 201, res.body);
    return res.json<Created>();
  };
  const token = (body: Record<string, string>, headers: Record<string, string> = {}) =>
    app().inject({ method: 'POST', url: '/oauth/token', headers: { ...FORM, ...headers }, payload: form(body) });
  const sessionCount = async () =>
    (await built.services.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions'))[0]!.n;

  it('POST /admin/clients registers a client and shows the secret once; only a hash is stored', async () => {
    const res = await register({ name: 'Reports service', scope: 'reports:read reports:write', introspect: false });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    const created = res.json<Created>();
    assert.deepEqual(Object.keys(created).sort(), CLIENT_KEYS);
    assert.match(created.client_id, CLIENT_ID);
    assert.match(created.client_secret, SECRET, 'at least 43 base64url characters');
    assert.ok(Buffer.from(created.client_secret, 'base64url').length >= 32, 'at least 256 bits');
    assert.deepEqual(
      [created.name, created.scope, created.grant_types, created.introspect],
      ['Reports service', 'reports:read reports:write', ['client_credentials'], false],
    );

    // Stored: a hash, never the secret; not in the audit trail either.
    const [row] = await built.services.db.query<{
      id: string;
      secret_hash: string;
      scopes: string[];
      can_introspect: boolean;
    }>('SELECT * FROM clients WHERE id = $1', [created.client_id]);
    assert.ok(row);
    assert.notEqual(row.secret_hash, created.client_secret);
    assert.ok(row.secret_hash.length > 0);
    assert.deepEqual(row.scopes, ['reports:read', 'reports:write']);
    assert.equal(row.can_introspect, false);
    const everything = await built.services.db.query<{ dump: string }>(
      `SELECT coalesce((SELECT string_agg(row_to_json(c)::text, ' ') FROM clients c), '') || ' ' ||
              coalesce((SELECT string_agg(row_to_json(e)::text, ' ') FROM security_events e), '') AS dump`,
    );
    assert.ok(!everything[0]!.dump.includes(created.client_secret), 'the secret is stored nowhere');
    const events = await built.services.db.query(
      `SELECT 1 FROM security_events WHERE type = 'client_created' AND detail->>'client_id' = $1`,
      [created.client_id],
    );
    assert.equal(events.length, 1);

    // Another registration: another id, another secret.
    const second = await registered({ name: 'Reports service', scope: 'reports:read' });
    assert.notEqual(second.client_id, created.client_id);
    assert.notEqual(second.client_secret, created.client_secret);
  });

  it('only admins register clients, and only with the documented fields', async () => {
    const [moderator, user] = await Promise.all([userWithRoles(built, ['moderator']), userWithRoles(built, ['user'])]);
    const before = (await built.services.db.query<{ n: number }>('SELECT count(*)::int AS n FROM clients'))[0]!.n;
    assertError(await register({ name: 'x', scope: 'a' }, moderator.auth), 403, 'forbidden');
    assertError(await register({ name: 'x', scope: 'a' }, user.auth), 403, 'forbidden');
    assertError(await register({ name: 'x', scope: 'a' }, {}), 401, 'invalid_token');
    for (const body of [
      { name: 'x', scope: 'a', client_secret: 'chosen-by-the-caller' },
      { name: 'x', scope: 'a', client_id: 'chosen-client-id-0001' },
      { name: 'x', scope: 'a', grant_types: ['password'] },
      { name: 'x', scope: 'a', grant_types: ['refresh_token'] },
      { name: 'x', scope: 'a', introspect: 'yes' },
      { name: '', scope: 'a' },
      { scope: 'a' },
    ]) {
      assertError(await register(body), 400, 'invalid_request');
    }
    assertError(await register({ name: 'x', scope: 'a "b"' }), 400, 'invalid_scope');
    const after = (await built.services.db.query<{ n: number }>('SELECT count(*)::int AS n FROM clients'))[0]!.n;
    assert.equal(after, before, 'no client was created');
  });

  it('client_credentials with client_secret_basic and client_secret_post: an access token for the client, no refresh token', async () => {
    const client = await registered({ name: 'Batch', scope: 'reports:read reports:write' });
    const sessions = await sessionCount();
    const jwks = (await app().inject({ method: 'GET', url: '/.well-known/jwks.json' })).json<JSONWebKeySet>();
    for (const [method, res] of [
      [
        'client_secret_basic',
        await token({ grant_type: 'client_credentials' }, basic(client.client_id, client.client_secret)),
      ],
      [
        'client_secret_post',
        await token({
          grant_type: 'client_credentials',
          client_id: client.client_id,
          client_secret: client.client_secret,
        }),
      ],
    ] as const) {
      assert.equal(res.statusCode, 200, `${method}: ${res.body}`);
      assert.equal(res.headers['cache-control'], 'no-store');
      const body = res.json<Record<string, unknown>>();
      assert.deepEqual(
        Object.keys(body).sort(),
        ['access_token', 'expires_in', 'scope', 'token_type'],
        `${method}: no refresh_token`,
      );
      assert.equal(body.token_type, 'Bearer');
      assert.equal(body.expires_in, built.config.accessTokenTtl);
      assert.equal(body.scope, 'reports:read reports:write');
      const accessToken = String(body.access_token);
      assert.equal(decodeProtectedHeader(accessToken).typ, 'at+jwt');
      const { payload } = await jwtVerify(accessToken, createLocalJWKSet(jwks), {
        issuer,
        audience: issuer,
        typ: 'at+jwt',
      });
      assert.equal(payload.sub, client.client_id);
      assert.equal(payload.client_id, client.client_id);
      assert.equal(payload.scope, 'reports:read reports:write');
      assert.equal(payload.sid, undefined, 'no session');
      assert.equal(payload.roles, undefined, 'no roles');
      // A client token is no user: user endpoints refuse it.
      assertError(
        await app().inject({ method: 'GET', url: '/userinfo', headers: { authorization: `Bearer ${accessToken}` } }),
        401,
        'invalid_token',
      );
    }
    assert.equal(await sessionCount(), sessions, 'no session was opened');

    // A narrower scope is granted as asked; a wider one is refused.
    const narrow = await token(
      { grant_type: 'client_credentials', scope: 'reports:read' },
      basic(client.client_id, client.client_secret),
    );
    assert.equal(narrow.statusCode, 200, narrow.body);
    assert.equal(narrow.json<{ scope: string }>().scope, 'reports:read');
    assert.equal(decodeJwt(narrow.json<{ access_token: string }>().access_token).scope, 'reports:read');
    for (const scope of ['reports:read reports:admin', 'reports:admin', 'openid profile']) {
      assertError(
        await token({ grant_type: 'client_credentials', scope }, basic(client.client_id, client.client_secret)),
        400,
        'invalid_scope',
      );
    }
  });

  it('refuses bad client authentication: 401 invalid_client with a challenge, 400 for two methods', async () => {
    const client = await registered({ name: 'Auth', scope: 'a' });
    const challenged = (res: Awaited<ReturnType<typeof token>>) => {
      assertError(res, 401, 'invalid_client');
      assert.match(String(res.headers['www-authenticate']), /^Basic realm="[^"]+"/);
    };
    challenged(await token({ grant_type: 'client_credentials' }, basic(client.client_id, `${client.client_secret}x`)));
    challenged(await token({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: 'wrong' }));
    challenged(
      await token({ grant_type: 'client_credentials' }, basic('unknown-client-0000000000', client.client_secret)),
    );
    challenged(
      await token({
        grant_type: 'client_credentials',
        client_id: 'unknown-client-0000000000',
        client_secret: client.client_secret,
      }),
    );
    challenged(await token({ grant_type: 'client_credentials' }));
    challenged(await token({ grant_type: 'client_credentials', client_id: client.client_id }));
    // Another client's secret does not open this one.
    const other = await registered({ name: 'Other', scope: 'a' });
    challenged(await token({ grant_type: 'client_credentials' }, basic(client.client_id, other.client_secret)));

    // Both methods at once: a malformed request, whichever secrets.
    assertError(
      await token(
        { grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret },
        basic(client.client_id, client.client_secret),
      ),
      400,
      'invalid_request',
    );
    // A disabled client is refused like an unknown one.
    await built.services.db.query('UPDATE clients SET disabled = true WHERE id = $1', [other.client_id]);
    challenged(await token({ grant_type: 'client_credentials' }, basic(other.client_id, other.client_secret)));
  });

  it('a client_credentials token for a resource verifies at that resource service', async () => {
    const client = await registered({ name: 'Reports reader', scope: 'reports:read' });
    const res = await token(
      { grant_type: 'client_credentials', resource: REPORTS },
      basic(client.client_id, client.client_secret),
    );
    assert.equal(res.statusCode, 200, res.body);
    const accessToken = res.json<{ access_token: string }>().access_token;
    assert.equal(decodeJwt(accessToken).aud, REPORTS, 'resource selects the audience');
    assertError(
      await token(
        { grant_type: 'client_credentials', resource: 'https://elsewhere.example' },
        basic(client.client_id, client.client_secret),
      ),
      400,
      'invalid_target',
    );

    // The verifier kit, discovering Tessera's keys over HTTP.
    const verifier = createVerifier({ issuer, audience: REPORTS });
    try {
      const claims = await verifier.verify(accessToken);
      assert.equal(claims.sub, client.client_id);
      assert.equal(claims.client_id, client.client_id);
      assert.equal(claims.scope, 'reports:read');
      assert.equal(claims.iss, issuer);
      // A token for the default audience is not for this service.
      const plain = await token({ grant_type: 'client_credentials' }, basic(client.client_id, client.client_secret));
      await assert.rejects(
        verifier.verify(plain.json<{ access_token: string }>().access_token),
        (e: unknown) => e instanceof VerifierError && e.code === 'ERR_CLAIM_INVALID',
      );
    } finally {
      await verifier.close();
    }

    // A resource service built as in examples/resource-service.ts.
    const resource = Fastify({ logger: false });
    try {
      await resource.register(tesseraAuth, { issuer, audience: REPORTS, realm: 'reports' });
      resource.get('/reports', { preHandler: requireScope('reports:read') }, async (request) => ({
        for: getAuth(request)!.sub,
      }));
      resource.get('/reports/admin', { preHandler: requireScope('reports:admin') }, async () => ({ ok: true }));
      resource.get('/admin', { preHandler: requireRole('admin') }, async () => ({ ok: true }));
      const auth = { authorization: `Bearer ${accessToken}` };
      const ok = await resource.inject({ method: 'GET', url: '/reports', headers: auth });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.deepEqual(ok.json(), { for: client.client_id });
      assert.equal((await resource.inject({ method: 'GET', url: '/reports/admin', headers: auth })).statusCode, 403);
      assert.equal(
        (await resource.inject({ method: 'GET', url: '/admin', headers: auth })).statusCode,
        403,
        'a client has no roles',
      );
      assert.equal((await resource.inject({ method: 'GET', url: '/reports' })).statusCode, 401);
    } finally {
      await resource.close();
    }
  });

  it('the client the CLI created gets tokens and may introspect', async () => {
    assert.ok(cliClient, 'the CLI test ran first');
    const [row] = await built.services.db.query<{
      name: string;
      secret_hash: string;
      scopes: string[];
      can_introspect: boolean;
      grant_types: string[];
    }>('SELECT * FROM clients WHERE id = $1', [cliClient.id]);
    assert.ok(row, 'stored');
    assert.deepEqual(
      [row.name, row.scopes, row.can_introspect, row.grant_types],
      ['Nightly export', ['a', 'b'], true, ['client_credentials']],
    );
    assert.ok(!JSON.stringify(row).includes(cliClient.secret), 'only a hash of the secret is stored');
    const res = await token({ grant_type: 'client_credentials' }, basic(cliClient.id, cliClient.secret));
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<{ access_token: string; scope: string }>();
    assert.equal(body.scope, 'a b');
    const seen = await introspect(app(), cliClient, body.access_token);
    assert.equal(seen.statusCode, 200, seen.body);
    assert.equal(seen.json<{ active: boolean; sub: string }>().active, true);
    assert.equal(seen.json<{ sub: string }>().sub, cliClient.id);
  });
});
