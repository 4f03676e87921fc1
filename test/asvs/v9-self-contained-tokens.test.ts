// ASVS 5.0 V9 (self-contained tokens) where Tessera itself is the receiving service: its
// own endpoints take only access tokens (typ at+jwt) addressed to Tessera, so an ID token
// or a token minted for another resource server gets nowhere, though both are validly
// signed by the same published key.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { build, registerAndLogin, type Built } from '../helpers/build.js';
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
} from '../authorization/flow.js';

const ISSUER = 'http://localhost:3000';
const API = 'https://api.example.com';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let built: Built;
before(async () => {
  // One app for the file, closed once every test has run.
  built = await build({ after: () => {} }, { AUDIENCES: API });
});
after(() => built.services.close());

test('an ID token is refused where an access token is expected', async () => {
  const client = await registerClient(built, { type: 'public', first_party: true });
  const user = await newUser(built.app);
  const agent = new Agent(built.app);
  const p = pkce();
  const page = await agent.get(codeRequest(client.client_id, p.challenge, { scope: 'openid email', nonce: 'n-9' }));
  const code = callbackOf(await submitLogin(agent, page, user)).get('code')!;
  const res = await exchange(built.app, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    code_verifier: p.verifier,
    client_id: client.client_id,
  });
  assert.equal(res.statusCode, 200, res.body);
  const { access_token: accessToken, id_token: idToken } = res.json<{ access_token: string; id_token: string }>();

  // Both are signed by the same published key; only the type and audience differ.
  assert.equal(decodeProtectedHeader(idToken).kid, decodeProtectedHeader(accessToken).kid);
  assert.equal(decodeProtectedHeader(idToken).typ, 'JWT');
  assert.equal(decodeJwt(idToken).aud, client.client_id, 'an ID token names its client as the audience');
  assert.equal(decodeJwt(accessToken).aud, ISSUER);

  for (const url of ['/userinfo', '/users/me', '/users/me/sessions']) {
    const good = await built.app.inject({ method: 'GET', url, headers: bearer(accessToken) });
    assert.equal(good.statusCode, 200, `${url}: ${good.body}`);
    const refused = await built.app.inject({ method: 'GET', url, headers: bearer(idToken) });
    assert.equal(refused.statusCode, 401, `${url} took an ID token: ${refused.body}`);
    assert.equal(refused.json<{ error: string }>().error, 'invalid_token');
    assert.match(String(refused.headers['www-authenticate']), /^Bearer .*error="invalid_token"/);
  }
});

test("Tessera's own endpoints refuse an access token addressed to another resource", async () => {
  const { email, password } = await registerAndLogin(built.app);
  const login = await built.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password, resource: API },
  });
  assert.equal(login.statusCode, 200, login.body);
  const foreign = login.json<{ access_token: string }>().access_token;
  assert.equal(decodeJwt(foreign).aud, API);

  for (const url of ['/userinfo', '/users/me', '/users/me/sessions']) {
    const res = await built.app.inject({ method: 'GET', url, headers: bearer(foreign) });
    assert.equal(res.statusCode, 401, `${url} took a token for ${API}: ${res.body}`);
    assert.equal(res.json<{ error: string }>().error, 'invalid_token');
  }
  // The token is good where it belongs: introspection (for resource servers) calls it active.
  const reader = await registerClient(built, {
    name: 'reader',
    type: 'confidential',
    redirect_uris: [],
    post_logout_redirect_uris: [],
    grant_types: ['client_credentials'],
    scopes: ['orders:read'],
    can_introspect: true,
  });
  const introspected = await built.app.inject({
    method: 'POST',
    url: '/oauth/introspect',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${reader.client_id}:${reader.client_secret}`).toString('base64')}`,
    },
    payload: new URLSearchParams({ token: foreign }).toString(),
  });
  assert.equal(introspected.statusCode, 200, introspected.body);
  assert.equal(introspected.json<{ active: boolean; aud: unknown }>().active, true);
});
