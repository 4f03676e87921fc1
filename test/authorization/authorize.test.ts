// The authorization code flow end to end without a browser: the authorization endpoint,
// the hosted login and consent forms, the code at the token endpoint, ID tokens, single
// sign-on, and what each refused request gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { build, type Built } from '../helpers/build.js';
import {
  Agent,
  REDIRECT,
  authorizeUrl,
  codeRequest,
  callbackOf,
  exchange,
  hiddenFields,
  newUser,
  pkce,
  registerClient,
  submitLogin,
  type RegisteredClient,
} from './flow.js';

const ISSUER = 'http://localhost:3000';

async function setup(t: Parameters<typeof build>[0], env: Record<string, string> = {}) {
  const built = await build(t, env);
  const publicApp = await registerClient(built, { type: 'public', first_party: true, name: 'First app' });
  const user = await newUser(built.app);
  return { ...built, publicApp, user };
}

/** Logs in on the page for a public client; answers the callback's parameters and the PKCE pair. */
async function loginFor(
  built: Built & { user: { email: string; password: string } },
  agent: Agent,
  client: RegisteredClient,
  extra: Record<string, string> = {},
) {
  const p = pkce();
  const page = await agent.get(
    authorizeUrl({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: REDIRECT,
      scope: 'openid email',
      state: 'st-1',
      nonce: 'n-1',
      code_challenge: p.challenge,
      code_challenge_method: 'S256',
      ...extra,
    }),
  );
  assert.equal(page.statusCode, 200, page.body.slice(0, 300));
  const res = await submitLogin(agent, page, built.user);
  return { params: callbackOf(res), pkce: p, page, res };
}

async function jwks(app: Built['app']) {
  const res = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  return createLocalJWKSet(res.json());
}

test('a public client logs a user in on the hosted page and gets an ID token (PKCE, state, nonce, iss)', async (t) => {
  const built = await setup(t);
  const agent = new Agent(built.app);
  const { params, pkce: p, page } = await loginFor(built, agent, built.publicApp);

  // The page: HTML, a fresh CSP nonce, never framed.
  assert.match(String(page.headers['content-type']), /^text\/html; charset=utf-8/);
  const csp = String(page.headers['content-security-policy']);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(csp, /form-action 'self' https:\/\/app\.example\/callback/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(page.headers['x-frame-options'], 'DENY');
  assert.ok(agent.cookies.has('__Host-tessera-session'));

  assert.equal(params.get('state'), 'st-1');
  assert.equal(params.get('iss'), ISSUER);
  const code = params.get('code')!;
  assert.match(code, /^[A-Za-z0-9_-]{43}$/);

  const res = await exchange(built.app, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    code_verifier: p.verifier,
    client_id: built.publicApp.client_id,
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['cache-control'], 'no-store');
  const body = res.json<{ access_token: string; id_token: string; refresh_token: string; scope: string }>();
  assert.equal(body.scope, 'openid email');
  assert.ok(body.refresh_token);

  const { payload, protectedHeader } = await jwtVerify(body.id_token, await jwks(built.app), {
    issuer: ISSUER,
    audience: built.publicApp.client_id,
    typ: 'JWT',
  });
  assert.equal(payload.nonce, 'n-1');
  assert.deepEqual(payload.amr, ['pwd']);
  assert.equal(typeof payload.auth_time, 'number');
  assert.equal(typeof payload.sid, 'string');
  assert.equal(typeof payload.at_hash, 'string');
  assert.equal(protectedHeader.typ, 'JWT');
  const access = decodeJwt(body.access_token);
  assert.equal(access.sid, payload.sid);
  assert.equal(access.sub, payload.sub);
  assert.equal(decodeProtectedHeader(body.access_token).typ, 'at+jwt');

  // The ID token is never an access token.
  const asBearer = await built.app.inject({
    method: 'GET',
    url: '/userinfo',
    headers: { authorization: `Bearer ${body.id_token}` },
  });
  assert.equal(asBearer.statusCode, 401);
  const info = await built.app.inject({
    method: 'GET',
    url: '/userinfo',
    headers: { authorization: `Bearer ${body.access_token}` },
  });
  assert.equal(info.statusCode, 200, info.body);
  assert.deepEqual(info.json(), { sub: payload.sub, email: built.user.email, email_verified: false, roles: ['user'] });

  // The code row is stored hashed, never as issued.
  const rows = await built.services.db.query<{ code_hash: string }>(
    'SELECT code_hash FROM authorization_codes WHERE client_id = $1',
    [built.publicApp.client_id],
  );
  assert.ok(rows.length > 0 && rows.every((r) => r.code_hash !== code));
});

test('single sign-on: a second authorization in the same browser needs no password; prompt=none without one is login_required', async (t) => {
  const built = await setup(t);
  const agent = new Agent(built.app);
  await loginFor(built, agent, built.publicApp);
  const p = pkce();
  const again = await agent.get(codeRequest(built.publicApp.client_id, p.challenge, { state: 'st-2', prompt: 'none' }));
  assert.equal(again.statusCode, 302);
  assert.ok(callbackOf(again).get('code'));

  const stranger = new Agent(built.app);
  const none = await stranger.get(
    codeRequest(built.publicApp.client_id, p.challenge, { state: 'st-3', prompt: 'none' }),
  );
  const params = callbackOf(none);
  assert.equal(params.get('error'), 'login_required');
  assert.equal(params.get('state'), 'st-3');
  assert.equal(params.get('iss'), ISSUER);

  // prompt=login asks for the password again even with a session.
  const forced = await agent.get(codeRequest(built.publicApp.client_id, p.challenge, { prompt: 'login' }));
  assert.equal(forced.statusCode, 200);
  assert.match(forced.body, /name="password"/);
});

test('an unregistered or altered redirect_uri and an unknown client get the error page, never a redirect', async (t) => {
  const built = await setup(t);
  const agent = new Agent(built.app);
  const p = pkce();
  const base = {
    response_type: 'code',
    client_id: built.publicApp.client_id,
    scope: 'openid',
    code_challenge: p.challenge,
    code_challenge_method: 'S256',
  };
  for (const query of [
    { ...base, redirect_uri: 'https://evil.example/callback' },
    { ...base, redirect_uri: `${REDIRECT}/x` },
    { ...base, redirect_uri: `${REDIRECT}?next=https://evil.example` },
    { ...base, client_id: 'nobody-nobody-nobody', redirect_uri: REDIRECT },
    { ...base, client_id: undefined, redirect_uri: REDIRECT },
  ]) {
    const res = await agent.get(authorizeUrl(query));
    assert.equal(res.statusCode, 400, JSON.stringify(query));
    assert.equal(res.headers.location, undefined);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.doesNotMatch(res.body, /evil\.example/);
  }
  // A repeated parameter is a malformed request: the error page too.
  const twice = await agent.get(
    `${authorizeUrl({ ...base, redirect_uri: REDIRECT })}&redirect_uri=${encodeURIComponent('https://evil.example/')}`,
  );
  assert.equal(twice.statusCode, 400);
  assert.equal(twice.headers.location, undefined);
});

test('PKCE: missing, plain and malformed challenges go back as invalid_request; a wrong verifier burns the code', async (t) => {
  const built = await setup(t);
  const agent = new Agent(built.app);
  const base = {
    response_type: 'code',
    client_id: built.publicApp.client_id,
    redirect_uri: REDIRECT,
    scope: 'openid',
    state: 'x',
  };
  for (const extra of [
    {},
    { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' },
    { code_challenge: 'a'.repeat(43) },
    { code_challenge: 'short', code_challenge_method: 'S256' },
  ]) {
    const res = await agent.get(authorizeUrl({ ...base, ...extra }));
    const params = callbackOf(res);
    assert.equal(params.get('error'), 'invalid_request', JSON.stringify(extra));
    assert.equal(params.get('state'), 'x');
    assert.equal(params.get('code'), null);
  }

  const { params, pkce: p } = await loginFor(built, agent, built.publicApp);
  const code = params.get('code')!;
  const wrong = await exchange(built.app, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    code_verifier: pkce().verifier,
    client_id: built.publicApp.client_id,
  });
  assert.equal(wrong.statusCode, 400);
  assert.equal(wrong.json<{ error: string }>().error, 'invalid_grant');
  const late = await exchange(built.app, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    code_verifier: p.verifier,
    client_id: built.publicApp.client_id,
  });
  assert.equal(late.json<{ error: string }>().error, 'invalid_grant');
  const missing = await loginFor(built, agent, built.publicApp, { prompt: 'login' });
  const noVerifier = await exchange(built.app, {
    grant_type: 'authorization_code',
    code: missing.params.get('code')!,
    redirect_uri: REDIRECT,
    client_id: built.publicApp.client_id,
  });
  assert.equal(noVerifier.json<{ error: string }>().error, 'invalid_grant');
});

test('a code is single-use: of 10 parallel exchanges one wins, and the reuse ends the session it opened', async (t) => {
  const built = await setup(t);
  const agent = new Agent(built.app);
  const { params, pkce: p } = await loginFor(built, agent, built.publicApp);
  const fields = {
    grant_type: 'authorization_code',
    code: params.get('code')!,
    redirect_uri: REDIRECT,
    code_verifier: p.verifier,
    client_id: built.publicApp.client_id,
  };
  const first = await exchange(built.app, fields);
  assert.equal(first.statusCode, 200);
  const tokens = first.json<{ access_token: string; refresh_token: string }>();
  const burst = await Promise.all(Array.from({ length: 10 }, () => exchange(built.app, fields)));
  assert.deepEqual(
    burst.map((r) => r.statusCode),
    Array(10).fill(400),
  );
  const { sid } = decodeJwt(tokens.access_token) as { sid: string };
  const [session] = await built.services.db.query<{ end_reason: string }>(
    'SELECT end_reason FROM sessions WHERE id = $1',
    [sid],
  );
  assert.equal(session?.end_reason, 'code_reuse');
  const info = await built.app.inject({
    method: 'GET',
    url: '/userinfo',
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  assert.equal(info.statusCode, 401);
  const refreshed = await exchange(built.app, {
    grant_type: 'refresh_token',
    refresh_token: tokens.refresh_token,
    client_id: built.publicApp.client_id,
  });
  assert.equal(refreshed.json<{ error: string }>().error, 'invalid_grant');

  // A fresh code redeemed by 10 parallel requests: exactly one token response.
  const fresh = await loginFor(built, agent, built.publicApp, { prompt: 'login' });
  const race = await Promise.all(
    Array.from({ length: 10 }, () =>
      exchange(built.app, { ...fields, code: fresh.params.get('code')!, code_verifier: fresh.pkce.verifier }),
    ),
  );
  assert.equal(race.filter((r) => r.statusCode === 200).length, 1);
  const events = await built.services.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM security_events WHERE type = 'code_redeemed' AND detail->>'client_id' = $1",
    [built.publicApp.client_id],
  );
  assert.equal(events[0]?.n, 2);
});

test('an expired code, a code presented by another client or with another redirect_uri is invalid_grant', async (t) => {
  const built = await setup(t);
  const other = await registerClient(built, { type: 'public', first_party: true, name: 'Other app' });
  const agent = new Agent(built.app);
  const exchangeAs = (code: string, verifier: string, clientId: string, redirectUri = REDIRECT) =>
    exchange(built.app, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
      client_id: clientId,
    });

  const a = await loginFor(built, agent, built.publicApp);
  const byOther = await exchangeAs(a.params.get('code')!, a.pkce.verifier, other.client_id);
  assert.equal(byOther.json<{ error: string }>().error, 'invalid_grant');

  const b = await loginFor(built, agent, built.publicApp, { prompt: 'login' });
  const elsewhere = await exchangeAs(
    b.params.get('code')!,
    b.pkce.verifier,
    built.publicApp.client_id,
    'https://app.example/other',
  );
  assert.equal(elsewhere.json<{ error: string }>().error, 'invalid_grant');

  const c = await loginFor(built, agent, built.publicApp, { prompt: 'login' });
  await built.services.db.query(
    "UPDATE authorization_codes SET expires_at = now() - interval '1 second' WHERE client_id = $1",
    [built.publicApp.client_id],
  );
  const expired = await exchangeAs(c.params.get('code')!, c.pkce.verifier, built.publicApp.client_id);
  assert.equal(expired.json<{ error: string }>().error, 'invalid_grant');

  // A confidential client must authenticate: its client_id alone is invalid_client.
  const confidential = await registerClient(built, { type: 'confidential', first_party: true, name: 'Server app' });
  const d = await loginFor(built, agent, confidential, { prompt: 'login' });
  const unauthenticated = await exchangeAs(d.params.get('code')!, d.pkce.verifier, confidential.client_id);
  assert.equal(unauthenticated.statusCode, 401);
  assert.equal(unauthenticated.json<{ error: string }>().error, 'invalid_client');
});

test('the login form refuses a post without its CSRF token, with another browser’s, or from another site', async (t) => {
  const built = await setup(t);
  const agent = new Agent(built.app);
  const p = pkce();
  const page = await agent.get(codeRequest(built.publicApp.client_id, p.challenge));
  const hidden = hiddenFields(page.body);
  assert.ok(hidden.interaction && hidden.csrf_token);
  const creds = built.user;

  const noToken = await agent.post('/oauth/authorize/login', { interaction: hidden.interaction, ...creds });
  assert.equal(noToken.statusCode, 400);
  const wrongToken = await agent.post('/oauth/authorize/login', { ...hidden, csrf_token: 'A'.repeat(43), ...creds });
  assert.equal(wrongToken.statusCode, 403);
  const crossSite = await agent.post(
    '/oauth/authorize/login',
    { ...hidden, ...creds },
    { origin: 'https://evil.example' },
  );
  assert.equal(crossSite.statusCode, 403);
  // Another browser (no binding cookie) cannot use this browser's request and token.
  const thief = new Agent(built.app);
  const stolen = await thief.post('/oauth/authorize/login', { ...hidden, ...creds });
  assert.equal(stolen.statusCode, 400);
  assert.equal(stolen.headers.location, undefined);
  for (const res of [noToken, wrongToken, crossSite, stolen]) assert.equal(res.headers.location, undefined);
  const sessions = await built.services.db.query(
    'SELECT b.id FROM browser_sessions b JOIN users u ON u.id = b.user_id WHERE u.email = $1',
    [built.user.email],
  );
  assert.equal(sessions.length, 0, 'no refused post logged anyone in');

  // The right post still works, once.
  const ok = await agent.post('/oauth/authorize/login', { ...hidden, ...creds });
  assert.ok(callbackOf(ok).get('code'));
  const replay = await agent.post('/oauth/authorize/login', { ...hidden, ...creds });
  assert.equal(replay.statusCode, 400);
});

test('a wrong password re-renders the login page with a generic message and 401; the email stays, escaped', async (t) => {
  const built = await setup(t);
  const agent = new Agent(built.app);
  const p = pkce();
  const page = await agent.get(
    codeRequest(built.publicApp.client_id, p.challenge, { login_hint: '"><script>alert(1)</script>' }),
  );
  assert.doesNotMatch(page.body, /<script>alert/);
  assert.match(page.body, /value="&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;"/);
  const wrong = await submitLogin(agent, page, { email: built.user.email, password: 'not-the-password-at-all' });
  const unknown = await submitLogin(agent, wrong, { email: 'nobody@example.com', password: 'not-the-password-at-all' });
  for (const res of [wrong, unknown]) {
    assert.equal(res.statusCode, 401);
    assert.match(res.body, /The email or password is incorrect\./);
    assert.match(res.body, /name="password"/);
  }
  // Field values, the per-response nonce and the passkey button's fresh challenge differ by design.
  const strip = (html: string, email: string) =>
    html.replaceAll(email, 'EMAIL').replace(/(value|nonce|data-webauthn-options)="[^"]*"/g, '');
  assert.equal(strip(wrong.body, built.user.email), strip(unknown.body, 'nobody@example.com'));
});

test('consent: a third-party client shows its name and scopes; deny is access_denied, allow is remembered', async (t) => {
  const built = await setup(t);
  const third = await registerClient(built, {
    type: 'confidential',
    first_party: false,
    name: '<img src=x onerror=alert(1)> Photos',
  });
  const agent = new Agent(built.app);
  const basic = {
    authorization: `Basic ${Buffer.from(`${third.client_id}:${third.client_secret}`).toString('base64')}`,
  };
  const start = async () => {
    const p = pkce();
    const res = await agent.get(codeRequest(third.client_id, p.challenge, { scope: 'openid email', state: 'c1' }));
    return { res, p };
  };
  const { res: loginPage } = await start();
  const consent = await submitLogin(agent, loginPage, built.user);
  assert.equal(consent.statusCode, 200);
  assert.match(consent.body, /name="decision" value="allow"/);
  assert.match(consent.body, /&lt;img src=x onerror=alert\(1\)&gt; Photos/);
  assert.doesNotMatch(consent.body, /<img src=x/);
  assert.match(consent.body, /email/);

  const denied = await agent.post('/oauth/authorize/consent', { ...hiddenFields(consent.body), decision: 'deny' });
  const deniedParams = callbackOf(denied);
  assert.equal(deniedParams.get('error'), 'access_denied');
  assert.equal(deniedParams.get('state'), 'c1');

  const second = await start();
  assert.equal(second.res.statusCode, 200);
  assert.match(second.res.body, /value="allow"/, 'SSO: straight to consent');
  const allowed = await agent.post('/oauth/authorize/consent', { ...hiddenFields(second.res.body), decision: 'allow' });
  const code = callbackOf(allowed).get('code')!;
  const tokens = await exchange(
    built.app,
    { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: second.p.verifier },
    basic,
  );
  assert.equal(tokens.statusCode, 200, tokens.body);

  const third3 = await start();
  assert.equal(third3.res.statusCode, 302, 'consent remembered');
  const none = await agent.get(
    codeRequest(third.client_id, third3.p.challenge, { scope: 'openid email profile', prompt: 'none' }),
  );
  assert.equal(callbackOf(none).get('error'), 'consent_required', 'a wider scope needs consent again');
});

test('logout with id_token_hint ends the browser session and every session it opened; without one it asks first', async (t) => {
  const built = await setup(t);
  const agent = new Agent(built.app);
  const a = await loginFor(built, agent, built.publicApp);
  const tokens = (
    await exchange(built.app, {
      grant_type: 'authorization_code',
      code: a.params.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: a.pkce.verifier,
      client_id: built.publicApp.client_id,
    })
  ).json<{ id_token: string; refresh_token: string; access_token: string }>();

  const out = await agent.get(
    `/oauth/logout?${new URLSearchParams({
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: 'https://app.example/bye',
      state: 'bye-1',
    }).toString()}`,
  );
  assert.equal(out.statusCode, 302);
  assert.equal(out.headers.location, 'https://app.example/bye?state=bye-1');
  const refreshed = await exchange(built.app, {
    grant_type: 'refresh_token',
    refresh_token: tokens.refresh_token,
    client_id: built.publicApp.client_id,
  });
  assert.equal(refreshed.json<{ error: string }>().error, 'invalid_grant');
  const silent = await agent.get(codeRequest(built.publicApp.client_id, a.pkce.challenge, { prompt: 'none' }));
  assert.equal(callbackOf(silent).get('error'), 'login_required');

  // An unregistered post_logout_redirect_uri is never followed.
  const evil = await agent.get(
    `/oauth/logout?${new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: 'https://evil.example/' }).toString()}`,
  );
  assert.equal(evil.statusCode, 400);
  assert.equal(evil.headers.location, undefined);

  // Without a hint: a confirmation form with a CSRF token.
  await loginFor(built, agent, built.publicApp, { prompt: 'login' });
  const ask = await agent.get('/oauth/logout');
  assert.equal(ask.statusCode, 200);
  assert.match(ask.body, /value="logout"/);
  const forged = await agent.post('/oauth/logout/confirm', { decision: 'logout', csrf_token: 'A'.repeat(43) });
  assert.equal(forged.statusCode, 403);
  const confirmed = await agent.post('/oauth/logout/confirm', { ...hiddenFields(ask.body), decision: 'logout' });
  assert.equal(confirmed.statusCode, 200);
  assert.equal(confirmed.headers['clear-site-data'], '"cookies"');
  assert.equal(agent.cookies.has('__Host-tessera-session'), false);
  const live = await built.services.db.query(
    'SELECT b.id FROM browser_sessions b JOIN users u ON u.id = b.user_id WHERE u.email = $1 AND b.ended_at IS NULL',
    [built.user.email],
  );
  assert.equal(live.length, 0);
});

test('the hosted login shares the counters of POST /auth/login: after three failures the page shows the captcha', async (t) => {
  const built = await setup(t, {
    CAPTCHA_PROVIDER: 'hcaptcha',
    CAPTCHA_SECRET: 'test-secret',
    CAPTCHA_SITEKEY: 'site-key-1',
    CAPTCHA_VERIFY_URL: 'http://127.0.0.1:9/siteverify',
    CAPTCHA_SCRIPT_URL: 'http://127.0.0.1:9/api.js',
  });
  // Two failures through the JSON door, one through the page: the page then wants a captcha.
  for (let i = 0; i < 2; i++) {
    const res = await built.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: built.user.email, password: 'wrong-wrong-wrong' },
    });
    assert.equal(res.statusCode, 401);
  }
  const agent = new Agent(built.app);
  const p = pkce();
  const page = await agent.get(codeRequest(built.publicApp.client_id, p.challenge));
  assert.doesNotMatch(page.body, /h-captcha/);
  const third = await submitLogin(agent, page, { email: built.user.email, password: 'wrong-wrong-wrong' });
  assert.equal(third.statusCode, 401);
  assert.match(third.body, /class="h-captcha" data-sitekey="site-key-1"/);
  assert.match(third.body, /<script src="http:\/\/127\.0\.0\.1:9\/api\.js" nonce="[^"]+"/);
  assert.match(String(third.headers['content-security-policy']), /script-src 'nonce-[^']+' .*http:\/\/127\.0\.0\.1:9/);
  // The right password without an answer is still refused.
  const right = await submitLogin(agent, third, built.user);
  assert.equal(right.statusCode, 401);
  assert.match(right.body, /complete the check/);
});

test('a same-origin form post from a page with no referrer (Origin: null) is judged by Sec-Fetch-Site', async (t) => {
  const built = await setup(t);
  const start = async (agent: Agent) => {
    const p = pkce();
    return agent.get(codeRequest(built.publicApp.client_id, p.challenge));
  };
  const cross = new Agent(built.app);
  const crossPage = await start(cross);
  assert.equal(crossPage.headers['referrer-policy'], 'same-origin');
  const refused = await cross.post(
    '/oauth/authorize/login',
    { ...hiddenFields(crossPage.body), ...built.user },
    { origin: 'null', 'sec-fetch-site': 'cross-site' },
  );
  assert.equal(refused.statusCode, 403);
  const same = new Agent(built.app);
  const page = await start(same);
  const ok = await same.post(
    '/oauth/authorize/login',
    { ...hiddenFields(page.body), ...built.user },
    { origin: 'null', 'sec-fetch-site': 'same-origin' },
  );
  assert.ok(callbackOf(ok).get('code'));
});

test('userinfo by GET, by POST with the header (no body) and by POST with the token in the form body', async (t) => {
  const built = await setup(t);
  const agent = new Agent(built.app);
  const { params, pkce: p } = await loginFor(built, agent, built.publicApp);
  const { access_token } = (
    await exchange(built.app, {
      grant_type: 'authorization_code',
      code: params.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: p.verifier,
      client_id: built.publicApp.client_id,
    })
  ).json<{ access_token: string }>();
  const auth = { authorization: `Bearer ${access_token}` };
  const answers = [
    await built.app.inject({ method: 'GET', url: '/userinfo', headers: auth }),
    await built.app.inject({ method: 'POST', url: '/userinfo', headers: auth }),
    await built.app.inject({
      method: 'POST',
      url: '/userinfo',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `access_token=${access_token}`,
    }),
  ];
  for (const res of answers) assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(answers[1]!.json(), answers[0]!.json());
  assert.deepEqual(answers[2]!.json(), answers[0]!.json());
  // scope openid email: email claims, no profile claims.
  assert.equal(answers[0]!.json<{ email: string }>().email, built.user.email);
  assert.equal(answers[0]!.json<{ updated_at?: number }>().updated_at, undefined);
  const both = await built.app.inject({
    method: 'POST',
    url: '/userinfo',
    headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
    payload: `access_token=${access_token}`,
  });
  assert.equal(both.statusCode, 400);
  const none = await built.app.inject({ method: 'POST', url: '/userinfo' });
  assert.equal(none.statusCode, 401);
});
