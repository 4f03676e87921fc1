// ASVS 5.0 V10 (OAuth and OIDC) for Tessera as the authorization server and OpenID
// provider: grants only as registered, no implicit or hybrid response types, no repeated
// authorization parameter read as one of its values, and a sub never handed to someone else.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { GOOD_PASSWORD, build, uniqueEmail, type Built } from '../helpers/build.js';
import {
  Agent,
  REDIRECT,
  callbackOf,
  codeRequest,
  exchange,
  newUser,
  pkce,
  registerClient,
  submitLogin,
  type RegisteredClient,
} from '../authorization/flow.js';

const basic = (client: RegisteredClient) => ({
  authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`,
});

let built: Built;
let app: RegisteredClient;
before(async () => {
  // One app for the file, closed once every test has run.
  built = await build({ after: () => {} });
  app = await registerClient(built, { type: 'public', first_party: true, name: 'SPA' });
});
after(() => built.services.close());

test('a client may use only the grants it is registered for', async () => {
  const service = await registerClient(built, {
    name: 'service',
    type: 'confidential',
    redirect_uris: [],
    post_logout_redirect_uris: [],
    grant_types: ['client_credentials'],
    scopes: ['orders:read'],
  });
  const webApp = await registerClient(built, {
    name: 'web app without refresh',
    type: 'confidential',
    first_party: true,
    grant_types: ['authorization_code'],
    scopes: ['openid', 'email'],
  });

  const refused = [
    [service, 'authorization_code', { code: 'A'.repeat(43), redirect_uri: REDIRECT, code_verifier: 'v'.repeat(43) }],
    [service, 'refresh_token', { refresh_token: 'x.y.z' }],
    [webApp, 'client_credentials', {}],
  ] as const;
  for (const [client, grant, fields] of refused) {
    const res = await exchange(built.app, { grant_type: grant, ...fields }, basic(client));
    assert.equal(res.statusCode, 400, `${grant}: ${res.body}`);
    assert.ok(
      ['unauthorized_client', 'invalid_grant'].includes(res.json<{ error: string }>().error),
      `${grant}: ${res.body}`,
    );
    assert.equal(res.json<{ access_token?: string }>().access_token, undefined);
  }
  // client_credentials where it is not registered is named as such.
  const named = await exchange(built.app, { grant_type: 'client_credentials' }, basic(webApp));
  assert.equal(named.json<{ error: string }>().error, 'unauthorized_client');
  // The grants OAuth 2.1 removed exist for no client.
  for (const grant of ['password', 'implicit', 'token']) {
    const res = await exchange(
      built.app,
      { grant_type: grant, username: 'a@example.com', password: GOOD_PASSWORD },
      basic(service),
    );
    assert.equal(res.json<{ error: string }>().error, 'unsupported_grant_type', grant);
  }

  // A client registered without refresh_token gets no refresh token from its code.
  const user = await newUser(built.app);
  const agent = new Agent(built.app);
  const p = pkce();
  const page = await agent.get(codeRequest(webApp.client_id, p.challenge, { scope: 'openid email' }));
  const code = callbackOf(await submitLogin(agent, page, user)).get('code')!;
  const tokens = await exchange(
    built.app,
    { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: p.verifier },
    basic(webApp),
  );
  assert.equal(tokens.statusCode, 200, tokens.body);
  assert.ok(tokens.json<{ access_token: string }>().access_token);
  assert.equal(tokens.json<{ refresh_token?: string }>().refresh_token, undefined);
});

test('only response_type=code: implicit and hybrid requests go back as unsupported_response_type', async () => {
  const agent = new Agent(built.app);
  const p = pkce();
  for (const responseType of [
    'token',
    'id_token',
    'id_token token',
    'code id_token',
    'code token',
    'code id_token token',
  ]) {
    const res = await agent.get(
      codeRequest(app.client_id, p.challenge, { response_type: responseType, state: 's-rt', nonce: 'n-rt' }),
    );
    const params = callbackOf(res);
    assert.equal(params.get('error'), 'unsupported_response_type', responseType);
    assert.equal(params.get('state'), 's-rt');
    assert.equal(params.get('code'), null, `${responseType}: no code`);
    assert.equal(params.get('access_token'), null, `${responseType}: no token`);
    assert.equal(params.get('id_token'), null, `${responseType}: no ID token`);
    assert.equal(new URL(String(res.headers.location)).hash, '', `${responseType}: nothing in a fragment`);
  }
});

test('a repeated authorization parameter is refused, never read as one of its values', async () => {
  const agent = new Agent(built.app);
  const p = pkce();
  const base = codeRequest(app.client_id, p.challenge, { state: 's-dup' });
  assert.equal((await agent.get(base)).statusCode, 200, 'once each, the login page');
  for (const [name, value] of [
    ['redirect_uri', 'https://evil.example/callback'],
    ['client_id', 'someone-else'],
    ['code_challenge', pkce().challenge],
    ['scope', 'openid email'],
  ] as const) {
    const res = await agent.get(`${base}&${name}=${encodeURIComponent(value)}`);
    assert.equal(res.statusCode, 400, `${name} twice: ${res.statusCode} ${String(res.headers.location)}`);
    assert.equal(res.headers.location, undefined, `${name} twice: never a redirect`);
    assert.match(String(res.headers['content-type']), /^text\/html/);
  }
});

test("an erased account's sub is never given to a new account with the same address", async () => {
  const email = uniqueEmail('reassign');
  const login = async () => {
    const res = await built.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: GOOD_PASSWORD },
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ access_token: string }>().access_token;
  };
  const register = async () =>
    assert.equal(
      (await built.app.inject({ method: 'POST', url: '/users', payload: { email, password: GOOD_PASSWORD } }))
        .statusCode,
      201,
    );
  await register();
  const first = await login();
  const firstSub = decodeJwt(first).sub!;
  const erased = await built.app.inject({
    method: 'DELETE',
    url: '/users/me',
    headers: { authorization: `Bearer ${first}` },
    payload: { password: GOOD_PASSWORD },
  });
  assert.equal(erased.statusCode, 204, erased.body);

  await register();
  const second = await login();
  const secondSub = decodeJwt(second).sub!;
  assert.notEqual(secondSub, firstSub, 'a new account, a new sub');
  assert.match(secondSub, /^[0-9a-f-]{36}$/);
  // The erased account's token does not speak for the new owner of the address.
  const old = await built.app.inject({
    method: 'GET',
    url: '/userinfo',
    headers: { authorization: `Bearer ${first}` },
  });
  assert.equal(old.statusCode, 401);
  const me = await built.app.inject({
    method: 'GET',
    url: '/users/me',
    headers: { authorization: `Bearer ${second}` },
  });
  assert.equal(me.json<{ id: string }>().id, secondSub);
});
