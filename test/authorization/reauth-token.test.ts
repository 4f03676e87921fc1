// Re-authentication at the hosted pages (ASVS 7.2.4): the same user signing in again in the
// same browser (prompt=login) gets a new browser-session token, the old cookie is no session
// from then on, the token sessions opened from the browser session stay linked, and of two
// parallel re-logins with the same cookie only one ends with a live token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { refresh, registerAndLogin, type Built } from '../helpers/build.js';
import { suiteApp } from '../routes/suite-app.js';
import { totpCode } from '../helpers/totp.js';
import {
  Agent,
  FORM,
  callbackOf,
  codeRequest,
  exchange,
  hiddenFields,
  newUser,
  pkce,
  registerClient,
  REDIRECT,
  submitLogin,
  type RegisteredClient,
} from './flow.js';

const SESSION_COOKIE = '__Host-tessera-session';
const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest('base64url');

function sessionCookieOf(res: LightMyRequestResponse): string | undefined {
  const cookies = res.cookies as { name: string; value: string }[];
  return cookies.find((c) => c.name === SESSION_COOKIE)?.value;
}

/** What a browser holding only this session cookie gets for prompt=none. */
async function silently(built: Built, client: RegisteredClient, cookie: string): Promise<URLSearchParams> {
  const res = await built.app.inject({
    method: 'GET',
    url: codeRequest(client.client_id, pkce().challenge, { prompt: 'none', state: 'silent' }),
    cookies: { [SESSION_COOKIE]: cookie },
  });
  return callbackOf(res);
}

async function browserSessionsOf(built: Built, email: string) {
  return built.services.db.query<{ id: string; token_hash: string; ended_at: Date | null }>(
    `SELECT b.id, b.token_hash, b.ended_at FROM browser_sessions b JOIN users u ON u.id = b.user_id
      WHERE u.email = $1 ORDER BY b.created_at`,
    [email],
  );
}

// One app for the file (a build costs a second or more); each test its own client, user, browser.
const app = suiteApp();

test('re-authentication issues a new browser-session token and ends the old one', async () => {
  const built = app();
  const client = await registerClient(built, { type: 'public', first_party: true, name: 'First app' });
  const user = await newUser(built.app);
  const agent = new Agent(built.app);

  // First login, and a token session opened from it.
  const p = pkce();
  const first = await submitLogin(agent, await agent.get(codeRequest(client.client_id, p.challenge)), user);
  const oldCookie = sessionCookieOf(first);
  assert.ok(oldCookie, 'the first login sets the session cookie');
  const tokens = await exchange(built.app, {
    grant_type: 'authorization_code',
    code: callbackOf(first).get('code')!,
    redirect_uri: REDIRECT,
    code_verifier: p.verifier,
    client_id: client.client_id,
  });
  assert.equal(tokens.statusCode, 200, tokens.body);
  const refreshToken = tokens.json<{ refresh_token: string }>().refresh_token;

  // The same user again with prompt=login: the password form, then a new cookie.
  const forced = await agent.get(codeRequest(client.client_id, pkce().challenge, { prompt: 'login' }));
  assert.equal(forced.statusCode, 200);
  assert.match(forced.body, /name="password"/);
  const again = await submitLogin(agent, forced, user);
  assert.ok(callbackOf(again).get('code'));
  const newCookie = sessionCookieOf(again);
  assert.ok(newCookie, 'the re-login sets the session cookie again');
  assert.notEqual(newCookie, oldCookie);
  assert.match(newCookie, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, as at the first login');

  // The old cookie alone is no session; the new one is single sign-on.
  assert.equal((await silently(built, client, oldCookie)).get('error'), 'login_required');
  assert.ok((await silently(built, client, newCookie)).get('code'));

  // The same row under the new token's hash; the token session it opened still lives.
  const rows = await browserSessionsOf(built, user.email);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.token_hash, sha256(newCookie));
  assert.equal(rows[0]!.ended_at, null);
  const linked = await built.services.db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM sessions WHERE browser_session_id = $1 AND ended_at IS NULL',
    [rows[0]!.id],
  );
  assert.ok(linked[0]!.n >= 1, 'the token sessions stay linked to the browser session');
  const refreshed = await refresh(built.app, refreshToken, { client_id: client.client_id });
  assert.equal(refreshed.statusCode, 200, refreshed.body);
});

test('two parallel re-logins with the same cookie: one wins, only its token is live', async () => {
  const built = app();
  const client = await registerClient(built, { type: 'public', first_party: true, name: 'First app' });
  const user = await newUser(built.app);
  const agent = new Agent(built.app);
  await submitLogin(agent, await agent.get(codeRequest(client.client_id, pkce().challenge)), user);
  const oldCookie = agent.cookies.get(SESSION_COOKIE)!;

  const pages = [
    await agent.get(codeRequest(client.client_id, pkce().challenge, { prompt: 'login' })),
    await agent.get(codeRequest(client.client_id, pkce().challenge, { prompt: 'login' })),
  ];
  const cookies = Object.fromEntries(agent.cookies);
  const posts = await Promise.all(
    pages.map((page) =>
      built.app.inject({
        method: 'POST',
        url: '/oauth/authorize/login',
        headers: { ...FORM, origin: 'http://localhost:3000' },
        cookies,
        payload: new URLSearchParams({ ...hiddenFields(page.body), ...user }).toString(),
      }),
    ),
  );
  const won = posts.filter((r) => r.statusCode === 303);
  const lost = posts.filter((r) => r.statusCode !== 303);
  assert.equal(won.length, 1, posts.map((r) => r.statusCode).join(' '));
  assert.equal(lost[0]!.statusCode, 503, 'the other one is asked to retry');
  assert.equal(lost[0]!.headers['retry-after'], '1');
  assert.equal(sessionCookieOf(lost[0]!), undefined, 'the loser sets no session cookie');
  const winner = sessionCookieOf(won[0]!)!;

  const rows = await browserSessionsOf(built, user.email);
  assert.equal(rows.length, 1, 'no second session was opened');
  assert.equal(rows[0]!.token_hash, sha256(winner));
  assert.equal((await silently(built, client, oldCookie)).get('error'), 'login_required');
  assert.ok((await silently(built, client, winner)).get('code'));
});

test('the second step (a recovery code) of a re-login also ends in a new token', async () => {
  const built = app();
  const client = await registerClient(built, { type: 'public', first_party: true, name: 'First app' });
  const user = await registerAndLogin(built.app);
  const auth = { authorization: `Bearer ${user.tokens.access_token}` };
  const started = await built.app.inject({ method: 'POST', url: '/users/me/mfa/totp', headers: auth, payload: {} });
  assert.equal(started.statusCode, 201, started.body);
  const confirmed = await built.app.inject({
    method: 'POST',
    url: '/users/me/mfa/totp/confirm',
    headers: auth,
    payload: { code: totpCode(started.json<{ secret: string }>().secret) },
  });
  assert.equal(confirmed.statusCode, 200, confirmed.body);
  const codes = confirmed.json<{ recovery_codes: string[] }>().recovery_codes;

  const agent = new Agent(built.app);
  const creds = { email: user.email, password: user.password };
  const signIn = async (code: string, extra: Record<string, string> = {}) => {
    const mfa = await submitLogin(
      agent,
      await agent.get(codeRequest(client.client_id, pkce().challenge, extra)),
      creds,
    );
    assert.equal(mfa.statusCode, 200, mfa.body.slice(0, 300));
    const res = await agent.post('/oauth/authorize/mfa', { ...hiddenFields(mfa.body), method: 'recovery_code', code });
    assert.ok(callbackOf(res).get('code'));
    return sessionCookieOf(res);
  };
  const oldCookie = await signIn(codes[0]!);
  assert.ok(oldCookie);
  const newCookie = await signIn(codes[1]!, { prompt: 'login' });
  assert.ok(newCookie);
  assert.notEqual(newCookie, oldCookie);
  assert.equal((await silently(built, client, oldCookie)).get('error'), 'login_required');
  assert.ok((await silently(built, client, newCookie)).get('code'));
  const rows = await browserSessionsOf(built, user.email);
  assert.deepEqual(
    rows.map((r) => r.token_hash),
    [sha256(newCookie)],
  );
});
