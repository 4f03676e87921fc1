// POST /admin/clients for apps: public and confidential clients, first party, PKCE,
// redirect URIs; what is stored (no secret for a public client), what the answer shows
// (never a hash), and every refused registration leaving nothing behind.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { suiteApp } from '../routes/suite-app.js';
import { userWithRoles } from '../helpers/build.js';
import { assertError } from '../access/helpers.js';
import { createClient } from '../../src/clients/clients.js';
import { TesseraError } from '../../src/errors/errors.js';

const SECRET = /^[A-Za-z0-9_-]{43,}$/;
const CLIENT_ID = /^[A-Za-z0-9_-]{16,64}$/;
const ANSWER_KEYS = [
  'can_introspect',
  'client_id',
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

interface Answer {
  client_id: string;
  client_secret?: string;
  name: string;
  type: string;
  grant_types: string[];
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  scopes: string[];
  scope: string;
  first_party: boolean;
  can_introspect: boolean;
  introspect: boolean;
  require_pkce: boolean;
  created_at: string;
}

interface Row {
  id: string;
  name: string;
  type: string;
  secret_hash: string | null;
  grant_types: string[];
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  scopes: string[];
  first_party: boolean;
  can_introspect: boolean;
  require_pkce: boolean;
}

describe('registering clients over HTTP', () => {
  const built = suiteApp();
  let adminAuth: Record<string, string>;
  before(async () => {
    adminAuth = (await userWithRoles(built(), ['admin'])).auth;
  });

  const register = (payload: Record<string, unknown>) =>
    built().app.inject({ method: 'POST', url: '/admin/clients', headers: adminAuth, payload });
  async function registered(payload: Record<string, unknown>): Promise<Answer> {
    const res = await register(payload);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.ok(!res.body.includes('secret_hash') && !res.body.includes('hash'), 'no hash in the answer');
    return res.json<Answer>();
  }
  const row = async (id: string) =>
    (await built().services.db.query<Row>('SELECT * FROM clients WHERE id = $1', [id]))[0]!;
  const clientCount = async () =>
    (await built().services.db.query<{ n: number }>('SELECT count(*)::int AS n FROM clients'))[0]!.n;

  it('a public app: no secret, PKCE, authorization_code and refresh_token by default', async () => {
    const answer = await registered({
      name: 'Mobile app',
      type: 'public',
      redirect_uris: ['com.example.app:/callback', 'http://127.0.0.1/callback'],
      post_logout_redirect_uris: ['com.example.app:/logged-out'],
      scopes: ['openid', 'profile', 'email', 'offline_access'],
    });
    assert.deepEqual(Object.keys(answer).sort(), ANSWER_KEYS, 'no client_secret for a public client');
    assert.match(answer.client_id, CLIENT_ID);
    assert.deepEqual(
      {
        type: answer.type,
        grant_types: answer.grant_types,
        redirect_uris: answer.redirect_uris,
        post_logout_redirect_uris: answer.post_logout_redirect_uris,
        scopes: answer.scopes,
        scope: answer.scope,
        first_party: answer.first_party,
        can_introspect: answer.can_introspect,
        require_pkce: answer.require_pkce,
      },
      {
        type: 'public',
        grant_types: ['authorization_code', 'refresh_token'],
        redirect_uris: ['com.example.app:/callback', 'http://127.0.0.1/callback'],
        post_logout_redirect_uris: ['com.example.app:/logged-out'],
        scopes: ['openid', 'profile', 'email', 'offline_access'],
        scope: 'openid profile email offline_access',
        first_party: false,
        can_introspect: false,
        require_pkce: true,
      },
    );
    assert.ok(Math.abs(Date.parse(answer.created_at) - Date.now()) < 60_000);

    const stored = await row(answer.client_id);
    assert.equal(stored.type, 'public');
    assert.equal(stored.secret_hash, null, 'a public client has no secret');
    assert.deepEqual(stored.redirect_uris, answer.redirect_uris);
    assert.deepEqual(stored.post_logout_redirect_uris, answer.post_logout_redirect_uris);
    assert.equal(stored.require_pkce, true);

    const [event] = await built().services.db.query<{ detail: Record<string, unknown>; target: string }>(
      `SELECT detail, target FROM security_events WHERE type = 'client_created' AND detail->>'client_id' = $1`,
      [answer.client_id],
    );
    assert.deepEqual(event?.detail, { client_id: answer.client_id, name: 'Mobile app', type: 'public' });
    assert.equal(event?.target, answer.client_id);
  });

  it('a confidential first-party web app: a secret once, stored as a hash', async () => {
    const answer = await registered({
      name: 'Dashboard',
      type: 'confidential',
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      redirect_uris: ['https://dashboard.example/callback'],
      scopes: ['openid', 'email', 'reports:read'],
      first_party: true,
      can_introspect: true,
      require_pkce: false,
    });
    assert.deepEqual(Object.keys(answer).sort(), [...ANSWER_KEYS, 'client_secret'].sort());
    assert.match(answer.client_secret!, SECRET);
    assert.equal(answer.type, 'confidential');
    assert.deepEqual(answer.grant_types, ['authorization_code', 'refresh_token', 'client_credentials']);
    assert.equal(answer.first_party, true);
    assert.equal(answer.can_introspect, true);
    assert.equal(answer.introspect, true);
    assert.equal(answer.require_pkce, false);

    const stored = await row(answer.client_id);
    assert.equal(stored.type, 'confidential');
    assert.match(stored.secret_hash ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(stored.secret_hash, answer.client_secret);
    assert.equal(stored.first_party, true);
    assert.equal(stored.require_pkce, false);
    const [event] = await built().services.db.query<{ detail: Record<string, unknown> }>(
      `SELECT detail FROM security_events WHERE type = 'client_created' AND detail->>'client_id' = $1`,
      [answer.client_id],
    );
    assert.equal(event?.detail.type, 'confidential');
    assert.ok(!JSON.stringify(event).includes(answer.client_secret!));
  });

  it('redirect URIs alone make a confidential app with PKCE required', async () => {
    const answer = await registered({
      name: 'Partner',
      redirect_uris: ['https://partner.example/cb'],
      scopes: ['openid'],
    });
    assert.equal(answer.type, 'confidential');
    assert.match(answer.client_secret!, SECRET);
    assert.deepEqual(answer.grant_types, ['authorization_code', 'refresh_token']);
    assert.equal(answer.require_pkce, true);
    assert.equal(answer.first_party, false);
  });

  it("today's registration is unchanged: scope as a string, introspect, client_credentials", async () => {
    const answer = await registered({ name: 'Batch', scope: 'a b', introspect: true });
    assert.deepEqual(answer.grant_types, ['client_credentials']);
    assert.deepEqual(answer.scopes, ['a', 'b']);
    assert.equal(answer.scope, 'a b');
    assert.equal(answer.can_introspect, true);
    assert.deepEqual(answer.redirect_uris, []);
    assert.equal((await row(answer.client_id)).type, 'confidential');
  });

  it('outside production, http to any host may be registered', async () => {
    const answer = await registered({ name: 'Dev', redirect_uris: ['http://dev.example:8080/cb'], scopes: ['openid'] });
    assert.deepEqual(answer.redirect_uris, ['http://dev.example:8080/cb']);
  });

  it('refuses bad metadata with 400, creating nothing', async () => {
    const before = await clientCount();
    const app = { name: 'x', scopes: ['openid'], redirect_uris: ['https://app.example/cb'] };
    const many = Array.from({ length: 21 }, (_, i) => `https://app.example/${i}`);
    const cases: [string, Record<string, unknown>, string][] = [
      ['an unknown type', { ...app, type: 'secret' }, 'invalid_request'],
      ['an unknown grant', { ...app, grant_types: ['implicit'] }, 'invalid_request'],
      ['the password grant', { ...app, grant_types: ['password'] }, 'invalid_request'],
      ['no grants', { ...app, grant_types: [] }, 'invalid_request'],
      ['refresh_token alone', { ...app, grant_types: ['refresh_token'] }, 'invalid_request'],
      [
        'authorization_code without redirect URIs',
        { name: 'x', scopes: ['a'], grant_types: ['authorization_code'] },
        'invalid_request',
      ],
      ['a public client without redirect URIs', { name: 'x', scopes: ['a'], type: 'public' }, 'invalid_request'],
      [
        'a public client with client_credentials',
        { ...app, type: 'public', grant_types: ['authorization_code', 'client_credentials'] },
        'invalid_request',
      ],
      ['a public client that introspects', { ...app, type: 'public', can_introspect: true }, 'invalid_request'],
      ['a public client without PKCE', { ...app, type: 'public', require_pkce: false }, 'invalid_request'],
      [
        'redirect URIs on a client_credentials client',
        { ...app, grant_types: ['client_credentials'] },
        'invalid_request',
      ],
      ['a fragment', { ...app, redirect_uris: ['https://app.example/cb#x'] }, 'invalid_request'],
      ['a wildcard', { ...app, redirect_uris: ['https://*.app.example/cb'] }, 'invalid_request'],
      ['user info', { ...app, redirect_uris: ['https://me@app.example/cb'] }, 'invalid_request'],
      ['a relative URI', { ...app, redirect_uris: ['/cb'] }, 'invalid_request'],
      ['javascript:', { ...app, redirect_uris: ['javascript:alert(1)'] }, 'invalid_request'],
      ['data:', { ...app, post_logout_redirect_uris: ['data:text/html,x'] }, 'invalid_request'],
      ['white space', { ...app, redirect_uris: ['https://app.example/c b'] }, 'invalid_request'],
      ['a URI too long', { ...app, redirect_uris: [`https://app.example/${'a'.repeat(2040)}`] }, 'invalid_request'],
      ['21 redirect URIs', { ...app, redirect_uris: many }, 'invalid_request'],
      ['21 post-logout URIs', { ...app, post_logout_redirect_uris: many }, 'invalid_request'],
      ['a NUL in a URI', { ...app, redirect_uris: ['https://app.example/\u0000'] }, 'invalid_request'],
      ['a URI that is not a string', { ...app, redirect_uris: [42] }, 'invalid_request'],
      ['both scope and scopes', { ...app, scope: 'openid' }, 'invalid_request'],
      ['neither scope nor scopes', { name: 'x' }, 'invalid_request'],
      [
        'both introspect and can_introspect',
        { name: 'x', scope: 'a', introspect: true, can_introspect: true },
        'invalid_request',
      ],
      ['a malformed scope', { ...app, scopes: ['a"b'] }, 'invalid_scope'],
      ['a caller-chosen secret', { ...app, client_secret: 'mine' }, 'invalid_request'],
      ['a caller-chosen secret hash', { ...app, secret_hash: 'x' }, 'invalid_request'],
      ['an unknown field', { ...app, token_endpoint_auth_method: 'none' }, 'invalid_request'],
      ['first_party as a string', { ...app, first_party: 'yes' }, 'invalid_request'],
      ['require_pkce as a string', { ...app, require_pkce: 'false' }, 'invalid_request'],
    ];
    for (const [what, body, error] of cases) {
      const res = await register(body);
      assert.equal(res.statusCode, 400, `${what}: ${res.body}`);
      assertError(res, 400, error);
    }
    assert.equal(await clientCount(), before, 'no client was created');
  });

  it('the description says what is wrong, for the admin to fix', async () => {
    const res = await register({
      name: 'x',
      scopes: ['openid'],
      redirect_uris: ['https://app.example/ok', 'https://app.example/cb#frag'],
    });
    assertError(res, 400, 'invalid_request');
    assert.match(res.json<{ error_description: string }>().error_description, /redirect_uris\[1\] has a fragment/);
  });
});

describe('createClient outside HTTP', () => {
  const built = suiteApp();

  it('applies the production rules unless told otherwise', async () => {
    const http = { name: 'x', scopes: ['openid'], redirectUris: ['http://app.example/cb'] };
    await assert.rejects(
      createClient(built().services.db, http),
      (e: unknown) => e instanceof TesseraError && e.code === 'invalid_request' && /not loopback/.test(e.description),
    );
    const { client, secret } = await createClient(built().services.db, http, { production: false });
    assert.deepEqual(client.redirect_uris, ['http://app.example/cb']);
    assert.match(secret, SECRET);
    const loopback = await createClient(built().services.db, {
      ...http,
      type: 'public',
      redirectUris: ['http://[::1]:4000/cb'],
    });
    assert.equal(loopback.secret, undefined);
    assert.equal(loopback.client.secret_hash, null);
  });

  it('the database refuses a public client with a secret or without PKCE, whatever the code does', async () => {
    const db = built().services.db;
    const insert = (values: string) =>
      db.query(
        `INSERT INTO clients (id, name, type, secret_hash, grant_types, scopes, require_pkce)
         VALUES ('raw-client-00000001', 'raw', ${values})`,
      );
    await assert.rejects(insert(`'public', 'hash', '{authorization_code}', '{}', true`));
    await assert.rejects(insert(`'public', NULL, '{authorization_code}', '{}', false`));
    await assert.rejects(insert(`'public', NULL, '{client_credentials}', '{}', true`));
    await assert.rejects(insert(`'confidential', NULL, '{client_credentials}', '{}', true`));
  });
});
