// A client's life after registration, over the admin API: listing and reading, changing
// (checked like a registration), secret rotation with its overlap (and parallel
// rotations), disabling and deleting (sessions end, tokens are refused here and listed in
// the revocation feed), and RFC 7009 revocation of a client_credentials token.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { userWithRoles } from '../helpers/build.js';
import { suiteApp } from '../routes/suite-app.js';
import { basic, FORM, form, introspect, newClient, type TestClient } from '../access/helpers.js';
import {
  Agent,
  callbackOf,
  codeRequest,
  exchange,
  newUser,
  pkce,
  REDIRECT,
  submitLogin,
} from '../authorization/flow.js';
import { updateClient } from '../../src/clients/manage-clients.js';
import { TesseraError } from '../../src/errors/errors.js';

type Auth = { authorization: string };

const VIEW_KEYS = [
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

function tokenFor(app: FastifyInstance, client: TestClient) {
  return app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { ...FORM, ...basic(client.id, client.secret) },
    payload: form({ grant_type: 'client_credentials' }),
  });
}

async function accessToken(app: FastifyInstance, client: TestClient): Promise<string> {
  const res = await tokenFor(app, client);
  assert.equal(res.statusCode, 200, res.body);
  return res.json<{ access_token: string }>().access_token;
}

async function feed(app: FastifyInstance, reader: TestClient, since = 0) {
  const res = await app.inject({
    method: 'GET',
    url: `/oauth/revoked?since=${since}`,
    headers: basic(reader.id, reader.secret),
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json<{
    sessions: { sid: string; ended_at: number }[];
    users: { sub: string; ended_at: number }[];
    clients: { client_id: string; ended_at: number }[];
    jtis: { jti: string; ended_at: number }[];
  }>();
}

async function active(app: FastifyInstance, reader: TestClient, token: string): Promise<boolean> {
  const res = await introspect(app, reader, token);
  assert.equal(res.statusCode, 200, res.body);
  return res.json<{ active: boolean }>().active;
}

/** A confidential app client (first party: no consent page) and a user's tokens from a real code flow. */
async function appSession(app: FastifyInstance, clientId: string, secret: string) {
  const user = await newUser(app);
  const agent = new Agent(app);
  const { verifier, challenge } = pkce();
  const page = await agent.get(codeRequest(clientId, challenge, { scope: 'openid offline_access' }));
  assert.equal(page.statusCode, 200, page.body.slice(0, 300));
  const code = callbackOf(await submitLogin(agent, page, user)).get('code');
  assert.ok(code);
  const res = await exchange(
    app,
    { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier },
    basic(clientId, secret),
  );
  assert.equal(res.statusCode, 200, res.body);
  return res.json<{ access_token: string; refresh_token: string }>();
}

describe('the client life cycle over the admin API', () => {
  const built = suiteApp({ CLIENT_SECRET_OVERLAP: '3600' });
  const app = () => built().app;
  let admin: Auth;
  let reader: TestClient;

  before(async () => {
    admin = (await userWithRoles(built(), ['admin'])).auth;
    reader = await newClient(built().services, { introspect: true, name: 'reader' });
  });

  const call = (method: 'GET' | 'PATCH' | 'DELETE' | 'POST', url: string, payload?: unknown, headers = admin) =>
    app().inject({ method, url, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });

  async function register(body: Record<string, unknown> = {}) {
    const res = await call('POST', '/admin/clients', {
      name: 'machine',
      scopes: ['reports:read', 'reports:write'],
      ...body,
    });
    assert.equal(res.statusCode, 201, res.body);
    const created = res.json<{ client_id: string; client_secret: string }>();
    return { id: created.client_id, secret: created.client_secret };
  }

  it('lists clients page by page and reads one, never with a secret or hash', async () => {
    const mine = [await register({ name: 'page a' }), await register({ name: 'page b' }), await register()];
    const seen: Record<string, unknown>[] = [];
    let after: string | null = null;
    do {
      const res = await call('GET', `/admin/clients?limit=2${after ? `&after=${after}` : ''}`);
      assert.equal(res.statusCode, 200, res.body);
      const page = res.json<{ clients: Record<string, unknown>[]; next_cursor: string | null }>();
      assert.ok(page.clients.length <= 2);
      seen.push(...page.clients);
      after = page.next_cursor;
    } while (after);
    const ids = seen.map((c) => c.client_id as string);
    assert.deepEqual(ids, [...ids].sort(), 'ordered by client_id');
    assert.equal(new Set(ids).size, ids.length, 'no client twice');
    for (const c of mine) assert.ok(ids.includes(c.id));
    for (const c of seen) assert.deepEqual(Object.keys(c).sort(), VIEW_KEYS);

    const one = await call('GET', `/admin/clients/${mine[0]!.id}`);
    assert.equal(one.statusCode, 200);
    const view = one.json<Record<string, unknown>>();
    assert.deepEqual(Object.keys(view).sort(), VIEW_KEYS);
    assert.equal(view.name, 'page a');
    assert.equal(view.disabled, false);
    assert.equal(view.secret_rotated_at, null);
    assert.equal(view.previous_secret_expires_at, null);
    assert.ok(!one.body.includes(mine[0]!.secret));
    assert.ok(!/hash/.test(one.body));
  });

  it('404 for an unknown id and for Tessera’s own client; 400 for a malformed id', async () => {
    for (const id of ['tessera', 'AAAAAAAAAAAAAAAAAAAAAA']) {
      for (const [method, url, payload] of [
        ['GET', `/admin/clients/${id}`],
        ['PATCH', `/admin/clients/${id}`, { name: 'x' }],
        ['DELETE', `/admin/clients/${id}`],
        ['POST', `/admin/clients/${id}/secret`],
      ] as const) {
        const res = await call(method, url, payload);
        assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`);
        assert.equal(res.json<{ error: string }>().error, 'not_found');
      }
    }
    assert.equal((await call('GET', '/admin/clients/bad%20id')).statusCode, 400);
    assert.equal((await call('GET', '/admin/clients?limit=0')).statusCode, 400);
    assert.equal((await call('GET', '/admin/clients?after=a%27b')).statusCode, 400);
  });

  it('only admins: moderators and users 403, anonymous 401', async () => {
    const target = await register();
    const moderator = (await userWithRoles(built(), ['moderator'])).auth;
    const user = (await userWithRoles(built(), ['user'])).auth;
    const requests = [
      ['GET', '/admin/clients'],
      ['GET', `/admin/clients/${target.id}`],
      ['PATCH', `/admin/clients/${target.id}`, { disabled: true }],
      ['DELETE', `/admin/clients/${target.id}`],
      ['POST', `/admin/clients/${target.id}/secret`],
    ] as const;
    for (const [method, url, payload] of requests) {
      for (const [who, headers] of [
        ['moderator', moderator],
        ['user', user],
      ] as const)
        assert.equal((await call(method, url, payload, headers)).statusCode, 403, `${who} ${method} ${url}`);
      assert.equal((await call(method, url, payload, {} as Auth)).statusCode, 401, `anonymous ${method} ${url}`);
    }
    // Nothing of it happened.
    assert.equal((await tokenFor(app(), target)).statusCode, 200);
  });

  it('changes name, scopes, grants and URIs, checked like a registration; refuses what it may not', async () => {
    const target = await register({ name: 'before' });
    const res = await call('PATCH', `/admin/clients/${target.id}`, { name: 'after', scopes: ['reports:read', 'x:y'] });
    assert.equal(res.statusCode, 200, res.body);
    const view = res.json<{ name: string; scopes: string[]; updated_at: string; created_at: string }>();
    assert.equal(view.name, 'after');
    assert.deepEqual(view.scopes, ['reports:read', 'x:y']);
    assert.ok(view.updated_at >= view.created_at);
    const [row] = await built().services.db.query<{ name: string; scopes: string[] }>(
      'SELECT name, scopes FROM clients WHERE id = $1',
      [target.id],
    );
    assert.deepEqual(row, { name: 'after', scopes: ['reports:read', 'x:y'] });

    const [event] = await built().services.db.query<{ detail: { client_id: string; changed: string[] } }>(
      `SELECT detail FROM security_events WHERE type = 'client_updated' AND detail->>'client_id' = $1`,
      [target.id],
    );
    assert.deepEqual(event?.detail.changed, ['name', 'scopes']);

    const refused: [unknown, number][] = [
      [{ secret_hash: 'x' }, 400],
      [{ type: 'public' }, 400],
      [{ can_introspect: true }, 400],
      [{ name: 'x', client_secret: 'mine' }, 400],
      [{}, 400],
      [{ scopes: [] }, 400],
      [{ scopes: ['bad scope'] }, 400],
      [{ name: '' }, 400],
      [{ grant_types: [] }, 400],
      [{ grant_types: ['password'] }, 400],
      // The merged result is checked: authorization_code needs redirect URIs.
      [{ grant_types: ['authorization_code'] }, 400],
      [{ redirect_uris: ['https://app.example/cb'] }, 400],
      [{ grant_types: ['authorization_code'], redirect_uris: ['https://app.example/*'] }, 400],
      [{ disabled: 'yes' }, 400],
    ];
    for (const [payload, status] of refused) {
      const answer = await call('PATCH', `/admin/clients/${target.id}`, payload);
      assert.equal(answer.statusCode, status, `${JSON.stringify(payload)}: ${answer.body}`);
    }
    const [unchanged] = await built().services.db.query<{ name: string; grant_types: string[] }>(
      'SELECT name, grant_types FROM clients WHERE id = $1',
      [target.id],
    );
    assert.deepEqual(unchanged, { name: 'after', grant_types: ['client_credentials'] });
  });

  it('production rules apply to a change: no plain http redirect to a public host', async () => {
    const target = await register({ grant_types: ['authorization_code'], redirect_uris: ['https://app.example/cb'] });
    const change = { redirectUris: ['http://app.example/cb'] };
    await assert.rejects(
      updateClient(built().services, target.id, change, 'cli', { production: true }),
      (e: unknown) => e instanceof TesseraError && e.code === 'invalid_request' && /http/.test(e.description),
    );
    const loopback = await updateClient(
      built().services,
      target.id,
      { redirectUris: ['http://127.0.0.1:8080/cb'] },
      'cli',
      { production: true },
    );
    assert.deepEqual(loopback.redirect_uris, ['http://127.0.0.1:8080/cb']);
  });

  it('rotation: the new secret once (no-store), both work during the overlap, only the new one after', async () => {
    const target = await register();
    const res = await call('POST', `/admin/clients/${target.id}/secret`);
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['cache-control']), /no-store/);
    const rotated = res.json<{
      client_secret: string;
      previous_secret_expires_at: string;
      secret_rotated_at: string;
    }>();
    assert.match(rotated.client_secret, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(rotated.client_secret, target.secret);
    const until = Date.parse(rotated.previous_secret_expires_at) - Date.parse(rotated.secret_rotated_at);
    assert.ok(Math.abs(until - 3600_000) < 2000, `overlap of CLIENT_SECRET_OVERLAP seconds, got ${until} ms`);

    const next = { id: target.id, secret: rotated.client_secret };
    assert.equal((await tokenFor(app(), target)).statusCode, 200, 'the previous secret during the overlap');
    assert.equal((await tokenFor(app(), next)).statusCode, 200, 'the new secret');
    assert.equal((await call('GET', `/admin/clients/${target.id}`)).body.includes(rotated.client_secret), false);

    const [event] = await built().services.db.query<{ detail: Record<string, unknown> }>(
      `SELECT detail FROM security_events WHERE type = 'client_secret_rotated' AND detail->>'client_id' = $1`,
      [target.id],
    );
    assert.ok(event);
    assert.ok(!JSON.stringify(event.detail).includes(rotated.client_secret));
    assert.ok(!JSON.stringify(event.detail).includes(target.secret));

    // The overlap ends.
    await built().services.db.query(
      `UPDATE clients SET previous_secret_expires_at = now() - interval '1 second' WHERE id = $1`,
      [target.id],
    );
    const old = await tokenFor(app(), target);
    assert.equal(old.statusCode, 401);
    assert.equal(old.json<{ error: string }>().error, 'invalid_client');
    assert.equal((await tokenFor(app(), next)).statusCode, 200);
  });

  it('a rotation during an overlap replaces the previous secret: at most two work', async () => {
    const first = await register();
    const second = (await call('POST', `/admin/clients/${first.id}/secret`)).json<{ client_secret: string }>();
    const third = (await call('POST', `/admin/clients/${first.id}/secret`)).json<{ client_secret: string }>();
    assert.equal((await tokenFor(app(), first)).statusCode, 401, 'the first secret is gone');
    assert.equal((await tokenFor(app(), { id: first.id, secret: second.client_secret })).statusCode, 200);
    assert.equal((await tokenFor(app(), { id: first.id, secret: third.client_secret })).statusCode, 200);
  });

  it('parallel rotations leave one current and one previous secret, both handed out', async () => {
    const target = await register();
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => call('POST', `/admin/clients/${target.id}/secret`)),
    );
    for (const a of answers) assert.equal(a.statusCode, 200, a.body);
    const secrets = answers.map((a) => a.json<{ client_secret: string }>().client_secret);
    assert.equal(new Set(secrets).size, secrets.length);
    const working = [];
    for (const secret of [target.secret, ...secrets])
      if ((await tokenFor(app(), { id: target.id, secret })).statusCode === 200) working.push(secret);
    assert.equal(working.length, 2, 'exactly two secrets work');
    assert.ok(!working.includes(target.secret), 'both from the rotations');
    const [row] = await built().services.db.query<{ secret_hash: string; previous_secret_hash: string }>(
      'SELECT secret_hash, previous_secret_hash FROM clients WHERE id = $1',
      [target.id],
    );
    assert.ok(row?.secret_hash && row.previous_secret_hash && row.secret_hash !== row.previous_secret_hash);
  });

  it('a public client has no secret to rotate', async () => {
    const res = await call('POST', '/admin/clients', {
      name: 'spa',
      type: 'public',
      scopes: ['openid'],
      redirect_uris: ['https://spa.example/cb'],
    });
    assert.equal(res.statusCode, 201, res.body);
    const rotate = await call('POST', `/admin/clients/${res.json<{ client_id: string }>().client_id}/secret`);
    assert.equal(rotate.statusCode, 400);
    assert.ok(!('client_secret' in rotate.json()));
  });

  it('disabling refuses the client at once, ends its sessions, revokes its tokens; enabling lets it back', async () => {
    const machine = await register({ scopes: ['reports:read'] });
    const token = await accessToken(app(), machine);
    assert.equal(await active(app(), reader, token), true);

    const appClient = await register({
      name: 'web app',
      first_party: true,
      scopes: ['openid', 'offline_access'],
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [REDIRECT],
    });
    const userTokens = await appSession(app(), appClient.id, appClient.secret);
    assert.equal(await active(app(), reader, userTokens.access_token), true);

    for (const c of [machine, appClient]) {
      const res = await call('PATCH', `/admin/clients/${c.id}`, { disabled: true });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json<{ disabled: boolean }>().disabled, true);
    }

    const refused = await tokenFor(app(), machine);
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.json<{ error: string }>().error, 'invalid_client');
    assert.equal(await active(app(), reader, token), false, 'its client_credentials token');
    assert.equal(await active(app(), reader, userTokens.access_token), false, 'its users’ access tokens');

    // Its refresh tokens: refused with the client authenticating, and dead without it.
    const withClient = await exchange(
      app(),
      { grant_type: 'refresh_token', refresh_token: userTokens.refresh_token },
      basic(appClient.id, appClient.secret),
    );
    assert.equal(withClient.statusCode, 401);
    const [session] = await built().services.db.query<{ id: string; ended_at: Date | null; end_reason: string }>(
      `SELECT id, ended_at, end_reason FROM sessions WHERE client_id = $1`,
      [appClient.id],
    );
    assert.ok(session?.ended_at, 'the session ended');
    assert.equal(session.end_reason, 'client_disabled');

    const list = await feed(app(), reader);
    assert.ok(list.clients.some((c) => c.client_id === machine.id));
    assert.ok(list.clients.some((c) => c.client_id === appClient.id));
    assert.ok(list.sessions.some((s) => s.sid === session.id));

    // A new authorization request of the disabled app: the error page, no redirect.
    const authorize = await new Agent(app()).get(codeRequest(appClient.id, pkce().challenge));
    assert.equal(authorize.statusCode, 400);
    assert.equal(authorize.headers.location, undefined);

    // Disabling again changes nothing and records nothing new.
    assert.equal((await call('PATCH', `/admin/clients/${machine.id}`, { disabled: true })).statusCode, 200);
    const events = await built().services.db.query<{ type: string }>(
      `SELECT type FROM security_events WHERE detail->>'client_id' = $1 AND type LIKE 'client_%' ORDER BY id`,
      [machine.id],
    );
    assert.deepEqual(
      events.map((e) => e.type),
      ['client_created', 'client_disabled'],
    );

    // Enabled again: new tokens work, the ones from before stay refused.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const enabled = await call('PATCH', `/admin/clients/${machine.id}`, { disabled: false });
    assert.equal(enabled.json<{ disabled: boolean }>().disabled, false);
    assert.equal(await active(app(), reader, await accessToken(app(), machine)), true);
    assert.equal(await active(app(), reader, token), false, 'issued before it was disabled');
    await call('PATCH', `/admin/clients/${appClient.id}`, { disabled: false });
    const again = await exchange(
      app(),
      { grant_type: 'refresh_token', refresh_token: userTokens.refresh_token },
      basic(appClient.id, appClient.secret),
    );
    assert.equal(again.statusCode, 400);
    assert.equal(again.json<{ error: string }>().error, 'invalid_grant');
  });

  it('a code issued before a disable cannot be redeemed after the client is enabled again', async () => {
    const appClient = await register({
      name: 'code app',
      first_party: true,
      scopes: ['openid'],
      grant_types: ['authorization_code'],
      redirect_uris: [REDIRECT],
    });
    const user = await newUser(app());
    const agent = new Agent(app());
    const { verifier, challenge } = pkce();
    const page = await agent.get(codeRequest(appClient.id, challenge));
    const code = callbackOf(await submitLogin(agent, page, user)).get('code')!;
    assert.equal((await call('PATCH', `/admin/clients/${appClient.id}`, { disabled: true })).statusCode, 200);
    assert.equal((await call('PATCH', `/admin/clients/${appClient.id}`, { disabled: false })).statusCode, 200);
    const res = await exchange(
      app(),
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier },
      basic(appClient.id, appClient.secret),
    );
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json<{ error: string }>().error, 'invalid_grant');
  });

  it('parallel disables and deletes: one takes effect, one event each, the rest see it done', async () => {
    const target = await register();
    const disables = await Promise.all(
      Array.from({ length: 6 }, () => call('PATCH', `/admin/clients/${target.id}`, { disabled: true })),
    );
    for (const d of disables) assert.equal(d.statusCode, 200, d.body);
    const deletes = await Promise.all(Array.from({ length: 6 }, () => call('DELETE', `/admin/clients/${target.id}`)));
    assert.deepEqual(deletes.map((d) => d.statusCode).sort(), [204, 404, 404, 404, 404, 404]);
    const events = await built().services.db.query<{ type: string }>(
      `SELECT type FROM security_events WHERE detail->>'client_id' = $1 ORDER BY id`,
      [target.id],
    );
    assert.deepEqual(
      events.map((e) => e.type),
      ['client_created', 'client_disabled', 'client_deleted'],
    );
  });

  it('deleting removes the client and what hangs on it; its tokens are refused, then 404', async () => {
    const machine = await register();
    const token = await accessToken(app(), machine);
    const appClient = await register({
      name: 'doomed app',
      first_party: true,
      scopes: ['openid', 'offline_access'],
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [REDIRECT],
    });
    const userTokens = await appSession(app(), appClient.id, appClient.secret);
    await built().services.db.query(
      `INSERT INTO authorization_requests (browser_hash, client_id, params, expires_at)
       VALUES (repeat('a', 43), $1, '{}', now() + interval '1 hour')`,
      [appClient.id],
    );

    for (const c of [machine, appClient]) {
      const res = await call('DELETE', `/admin/clients/${c.id}`);
      assert.equal(res.statusCode, 204, res.body);
      assert.equal(res.body, '');
    }
    assert.equal((await tokenFor(app(), machine)).statusCode, 401);
    assert.equal(await active(app(), reader, token), false);
    assert.equal(await active(app(), reader, userTokens.access_token), false);
    // Without client authentication (the client is gone), the refresh token is dead too.
    const refreshed = await exchange(app(), { grant_type: 'refresh_token', refresh_token: userTokens.refresh_token });
    assert.equal(refreshed.statusCode, 400, refreshed.body);
    assert.equal(refreshed.json<{ error: string }>().error, 'invalid_grant');

    const db = built().services.db;
    for (const table of ['clients', 'consents', 'authorization_codes', 'authorization_requests']) {
      const column = table === 'clients' ? 'id' : 'client_id';
      const rows = await db.query(`SELECT 1 FROM ${table} WHERE ${column} = $1`, [appClient.id]);
      assert.equal(rows.length, 0, `${table} emptied`);
    }
    const list = await feed(app(), reader);
    assert.ok(list.clients.some((c) => c.client_id === machine.id));
    assert.ok(list.clients.some((c) => c.client_id === appClient.id));
    assert.equal((await call('GET', `/admin/clients/${machine.id}`)).statusCode, 404);
    assert.equal((await call('DELETE', `/admin/clients/${machine.id}`)).statusCode, 404);
    const [event] = await db.query<{ actor: string; target: string }>(
      `SELECT actor, target FROM security_events WHERE type = 'client_deleted' AND detail->>'client_id' = $1`,
      [machine.id],
    );
    assert.equal(event?.target, machine.id);
  });

  it('taking a scope away revokes the tokens issued under it', async () => {
    const machine = await register({ scopes: ['a:read', 'a:write'] });
    const token = await accessToken(app(), machine);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const widened = await call('PATCH', `/admin/clients/${machine.id}`, { scopes: ['a:read', 'a:write', 'b:read'] });
    assert.equal(widened.statusCode, 200);
    assert.equal(await active(app(), reader, token), true, 'adding a scope keeps tokens');
    await call('PATCH', `/admin/clients/${machine.id}`, { scopes: ['a:read'] });
    assert.equal(await active(app(), reader, token), false, 'narrowing refuses the older token');
    // Tokens are judged by whole seconds: one issued in the revocation's second counts as before it.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal(await active(app(), reader, await accessToken(app(), machine)), true);
  });

  it('RFC 7009: a client revokes its own client_credentials token; another client may not', async () => {
    const owner = await register();
    const other = await register();
    const token = await accessToken(app(), owner);
    const untouched = await accessToken(app(), owner);
    const [payload] = token.split('.').slice(1, 2);
    const { jti } = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as { jti: string };

    const revoke = (client: TestClient, t: string) =>
      app().inject({
        method: 'POST',
        url: '/oauth/revoke',
        headers: { ...FORM, ...basic(client.id, client.secret) },
        payload: form({ token: t, token_type_hint: 'access_token' }),
      });
    const attempts = await Promise.all(Array.from({ length: 5 }, () => revoke(other, token)));
    for (const a of attempts) {
      assert.equal(a.statusCode, 400, a.body);
      assert.equal(a.json<{ error: string }>().error, 'unauthorized_client');
    }
    assert.equal(await active(app(), reader, token), true, 'another client changed nothing');

    const answers = await Promise.all(Array.from({ length: 5 }, () => revoke(owner, token)));
    for (const a of answers) assert.equal(a.statusCode, 200, a.body);
    assert.equal(await active(app(), reader, token), false, 'inactive at once');
    assert.equal(await active(app(), reader, untouched), true, 'only that token');
    const list = await feed(app(), reader);
    assert.equal(list.jtis.filter((j) => j.jti === jti).length, 1);
    const [row] = await built().services.db.query<{ expires_at: Date }>(
      `SELECT expires_at FROM revocations WHERE kind = 'jti' AND subject = $1`,
      [jti],
    );
    const { exp } = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as { exp: number };
    assert.equal(new Date(row!.expires_at).getTime(), exp * 1000, 'kept until the token expires');
  });

  it('housekeeping removes revocations past their expiry', async () => {
    const db = built().services.db;
    await db.query(
      `INSERT INTO revocations (kind, subject, expires_at) VALUES ('jti', 'old-one', now() - interval '1 second'),
                                                                    ('jti', 'live-one', now() + interval '1 hour')`,
    );
    await built().services.housekeeping();
    const left = await db.query<{ subject: string }>(
      `SELECT subject FROM revocations WHERE subject IN ('old-one', 'live-one')`,
    );
    assert.deepEqual(
      left.map((r) => r.subject),
      ['live-one'],
    );
  });
});
