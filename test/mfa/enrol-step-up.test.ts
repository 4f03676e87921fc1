// Adding a second factor (ASVS 7.5.1) and ending another of one's sessions (ASVS 7.5.2) need a
// login within STEP_UP_MAX_AGE: an access token stolen later cannot add the thief's factor or
// sign the owner out elsewhere. Signing out of the current session needs nothing more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { refresh } from '../helpers/build.js';
import { auth, claims, enrolTotp, login, mfaApp, newUser, type Tokens } from './helpers.js';
import type { AccountsApp } from '../accounts/helpers.js';

/** Moves the logins of the user's sessions 60 s back; a refresh then gives a token that says so. */
async function ageLogins(built: AccountsApp, userId: string) {
  await built.services.db.query(`UPDATE sessions SET auth_time = now() - interval '60 seconds' WHERE user_id = $1`, [
    userId,
  ]);
}

async function refreshed(app: FastifyInstance, tokens: Tokens): Promise<string> {
  const res = await refresh(app, tokens.refresh_token);
  assert.equal(res.statusCode, 200, res.body);
  return res.json<Tokens>().access_token;
}

function assertNeedsRecentLogin(
  res: { statusCode: number; body: string; headers: Record<string, unknown> },
  what: string,
) {
  assert.equal(res.statusCode, 401, `${what}: ${res.body.slice(0, 200)}`);
  assert.equal(JSON.parse(res.body).error, 'insufficient_user_authentication', what);
  assert.match(String(res.headers['www-authenticate']), /error="insufficient_user_authentication".*max_age=10/, what);
}

test('adding a second factor needs a recent login', async (t) => {
  const built = await mfaApp(t, { STEP_UP_MAX_AGE: '10' });
  const { app, services } = built;
  const user = await newUser(app);
  // A pending enrolment started while the login was fresh: the thief must not confirm it either.
  const started = await app.inject({
    method: 'POST',
    url: '/users/me/mfa/totp',
    headers: auth(user.tokens.access_token),
  });
  assert.equal(started.statusCode, 201, started.body);
  await ageLogins(built, user.id);
  const stale = await refreshed(app, user.tokens);
  assert.ok(Number(claims(stale).auth_time) <= Date.now() / 1000 - 50, 'the refreshed token carries the old login');

  for (const [url, payload] of [
    ['/users/me/mfa/totp', {}],
    ['/users/me/mfa/totp/confirm', { code: '123456' }],
    ['/users/me/mfa/webauthn/register/options', {}],
    ['/users/me/mfa/webauthn/register/verify', { credential: {} }],
  ] as const) {
    assertNeedsRecentLogin(await app.inject({ method: 'POST', url, headers: auth(stale), payload }), url);
  }
  // Nothing was added: no factor confirmed, no new pending secret, no registration challenge.
  const factors = await services.db.query<{ confirmed: boolean }>(
    `SELECT confirmed_at IS NOT NULL AS confirmed FROM mfa_factors WHERE user_id = $1`,
    [user.id],
  );
  assert.deepEqual(factors, [{ confirmed: false }], 'only the pending enrolment of the fresh login');
  const challenges = await services.db.query(`SELECT 1 FROM webauthn_challenges WHERE user_id = $1`, [user.id]);
  assert.equal(challenges.length, 0);
  // Reading one's factors needs no recent login.
  assert.equal((await app.inject({ method: 'GET', url: '/users/me/mfa', headers: auth(stale) })).statusCode, 200);

  // A fresh login enrols.
  const fresh = await login(app, user.email);
  assert.equal(fresh.statusCode, 200, fresh.body);
  const { recoveryCodes } = await enrolTotp(app, fresh.json<Tokens>().access_token);
  assert.equal(recoveryCodes.length, 10);
  const options = await app.inject({
    method: 'POST',
    url: '/users/me/mfa/webauthn/register/options',
    headers: auth(fresh.json<Tokens>().access_token),
  });
  assert.equal(options.statusCode, 200, options.body);
});

test('ending another session needs a recent login', async (t) => {
  const built = await mfaApp(t, { STEP_UP_MAX_AGE: '10' });
  const { app, services } = built;
  const user = await newUser(app);
  const other = (await login(app, user.email)).json<Tokens>();
  const otherId = String(claims(other.access_token).sid);
  const currentId = String(claims(user.tokens.access_token).sid);
  assert.notEqual(otherId, currentId);
  await ageLogins(built, user.id);
  const stale = await refreshed(app, user.tokens);
  const live = async (id: string) =>
    (await services.db.query(`SELECT 1 FROM sessions WHERE id = $1 AND ended_at IS NULL`, [id])).length === 1;

  const end = (id: string, token: string) =>
    app.inject({ method: 'DELETE', url: `/users/me/sessions/${id}`, headers: auth(token) });
  assertNeedsRecentLogin(await end(otherId, stale), 'another session');
  assert.ok(await live(otherId), 'the other session still lives');
  // Refused before the lookup: a stale token cannot tell which ids exist either.
  assertNeedsRecentLogin(await end('00000000-0000-4000-8000-000000000000', stale), 'no session');

  // A fresh login ends the other session.
  const fresh = (await login(app, user.email)).json<Tokens>();
  assert.equal((await end(otherId, fresh.access_token)).statusCode, 204);
  assert.equal(await live(otherId), false);
  assert.equal((await refresh(app, other.refresh_token)).statusCode, 400, 'its refresh token is dead');

  // Signing out of the current session works however old its login.
  assert.equal((await end(currentId, stale)).statusCode, 204);
  assert.equal(await live(currentId), false);
});
