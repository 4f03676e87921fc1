// The second-factor policy and step-up: an admin without a factor gets tokens without
// roles and reaches only enrolment until it enrols; step-up actions need a recent login
// (RFC 9470); an admin's reset of a user's factors is audited, mailed and ends sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { refresh, userWithRoles } from '../helpers/build.js';
import { auth, claims, enrolTotp, mfaApp, mfaToken, newUser, secondStep, totp, type Tokens } from './helpers.js';

test('MFA_REQUIRED_ROLES=admin: an admin without a factor is made to enrol before its tokens carry its roles', async (t) => {
  const built = await mfaApp(t, { MFA_REQUIRED_ROLES: 'admin' });
  const { app } = built;
  const admin = await userWithRoles(built, ['admin']);
  const token = admin.tokens.access_token;
  assert.deepEqual(claims(token).roles, [], 'no roles in a token until a second factor');
  assert.equal(claims(token).acr, 'pwd');

  const refused = await app.inject({ method: 'GET', url: '/admin/users', headers: auth(token) });
  assert.equal(refused.statusCode, 401);
  assert.equal(refused.json<{ error: string }>().error, 'insufficient_user_authentication');
  assert.match(
    String(refused.headers['www-authenticate']),
    /error="insufficient_user_authentication".*acr_values="mfa phr"/,
  );
  const ownSessions = await app.inject({ method: 'GET', url: '/users/me/sessions', headers: auth(token) });
  assert.equal(ownSessions.statusCode, 401, 'not even own data beyond enrolment');
  const me = await app.inject({ method: 'GET', url: '/users/me', headers: auth(token) });
  assert.equal(me.statusCode, 200);
  const overview = await app.inject({ method: 'GET', url: '/users/me/mfa', headers: auth(token) });
  assert.equal(overview.json<{ required: boolean }>().required, true);

  await enrolTotp(app, token);
  // The session that enrolled counts as multi-factor from its next token on.
  const refreshed = await refresh(app, admin.tokens.refresh_token);
  assert.equal(refreshed.statusCode, 200, refreshed.body);
  const upgraded = refreshed.json<Tokens>().access_token;
  assert.deepEqual(claims(upgraded).roles, ['admin']);
  assert.equal(claims(upgraded).acr, 'mfa');
  const allowed = await app.inject({ method: 'GET', url: '/admin/users', headers: auth(upgraded) });
  assert.equal(allowed.statusCode, 200, allowed.body);

  // Its last factor cannot go while the policy covers it.
  const { factors } = (await app.inject({ method: 'GET', url: '/users/me/mfa', headers: auth(upgraded) })).json<{
    factors: { id: string }[];
  }>();
  const last = await app.inject({ method: 'DELETE', url: `/users/me/mfa/${factors[0]!.id}`, headers: auth(upgraded) });
  assert.equal(last.statusCode, 400, last.body);
  // A plain user is not covered by this policy.
  const user = await newUser(app);
  assert.equal(
    (await app.inject({ method: 'GET', url: '/users/me/sessions', headers: auth(user.tokens.access_token) }))
      .statusCode,
    200,
  );
});

test('MFA_REQUIRED=all covers every account', async (t) => {
  const { app } = await mfaApp(t, { MFA_REQUIRED: 'all' });
  const user = await newUser(app);
  const res = await app.inject({ method: 'GET', url: '/users/me/sessions', headers: auth(user.tokens.access_token) });
  assert.equal(res.statusCode, 401);
  assert.equal(res.json<{ error: string }>().error, 'insufficient_user_authentication');
});

test('step-up: key rotation, client creation and role grants need an auth_time within STEP_UP_MAX_AGE', async (t) => {
  const built = await mfaApp(t, { STEP_UP_MAX_AGE: '60' });
  const { app, services } = built;
  const admin = await userWithRoles(built, ['admin']);
  const target = await newUser(app);
  // The session's login was two minutes ago: its refreshed token says so.
  await services.db.query(`UPDATE sessions SET auth_time = now() - interval '120 seconds' WHERE user_id = $1`, [
    admin.id,
  ]);
  const old = (await refresh(app, admin.tokens.refresh_token)).json<Tokens>().access_token;
  const actions = [
    { method: 'POST' as const, url: '/admin/keys/rotate' },
    { method: 'POST' as const, url: '/admin/clients', payload: { name: 'step-up client', scopes: ['openid'] } },
    { method: 'PATCH' as const, url: `/admin/users/${target.id}`, payload: { roles: ['moderator'] } },
    { method: 'DELETE' as const, url: `/admin/users/${target.id}/mfa` },
  ];
  for (const action of actions) {
    const res = await app.inject({ ...action, headers: auth(old) });
    assert.equal(res.statusCode, 401, `${action.method} ${action.url}: ${res.body}`);
    assert.equal(res.json<{ error: string }>().error, 'insufficient_user_authentication');
    assert.match(String(res.headers['www-authenticate']), /max_age=60/);
  }
  // Reading needs no step-up; disabling a user neither.
  assert.equal((await app.inject({ method: 'GET', url: '/admin/keys', headers: auth(old) })).statusCode, 200);
  const events = await services.db.query(
    `SELECT 1 FROM security_events WHERE type = 'step_up_required' AND user_id = $1`,
    [admin.id],
  );
  assert.equal(events.length, actions.length);
  // A fresh login: the same actions go through.
  const fresh = await userWithRoles(built, ['admin']);
  const rotated = await app.inject({
    method: 'POST',
    url: '/admin/keys/rotate',
    headers: auth(fresh.tokens.access_token),
  });
  assert.equal(rotated.statusCode, 200, rotated.body);
  const granted = await app.inject({
    method: 'PATCH',
    url: `/admin/users/${target.id}`,
    headers: auth(fresh.tokens.access_token),
    payload: { roles: ['moderator'] },
  });
  assert.equal(granted.statusCode, 200, granted.body);
});

test("an admin's reset removes every factor and recovery code, ends the user's sessions, is audited and mailed", async (t) => {
  const built = await mfaApp(t);
  const { app, services, smtp } = built;
  const admin = await userWithRoles(built, ['admin']);
  const moderator = await userWithRoles(built, ['moderator']);
  const user = await newUser(app);
  const { secret } = await enrolTotp(app, user.tokens.access_token);
  const pending = await mfaToken(app, user.email);
  const session = (
    await secondStep(app, { mfa_token: pending.mfa_token, method: 'totp', code: totp(secret, 1) })
  ).json<Tokens>();

  const listed = await app.inject({
    method: 'GET',
    url: `/admin/users/${user.id}/mfa`,
    headers: auth(moderator.tokens.access_token),
  });
  assert.equal(listed.statusCode, 200);
  assert.equal(listed.json<{ factors: unknown[] }>().factors.length, 1);
  assert.doesNotMatch(listed.body, new RegExp(secret));
  const byModerator = await app.inject({
    method: 'DELETE',
    url: `/admin/users/${user.id}/mfa`,
    headers: auth(moderator.tokens.access_token),
  });
  assert.equal(byModerator.statusCode, 403);

  const reset = await app.inject({
    method: 'DELETE',
    url: `/admin/users/${user.id}/mfa`,
    headers: auth(admin.tokens.access_token),
  });
  assert.equal(reset.statusCode, 200, reset.body);
  assert.deepEqual(reset.json(), { removed: 1 });
  const counts = await services.db.query<{ factors: number; codes: number }>(
    `SELECT (SELECT count(*)::int FROM mfa_factors WHERE user_id = $1) AS factors,
            (SELECT count(*)::int FROM mfa_recovery_codes WHERE user_id = $1) AS codes`,
    [user.id],
  );
  assert.deepEqual(counts[0], { factors: 0, codes: 0 });
  assert.equal((await refresh(app, session.refresh_token)).statusCode, 400, 'the sessions ended');
  const [event] = await services.db.query<{ actor: string; detail: Record<string, unknown> }>(
    `SELECT actor, detail FROM security_events WHERE type = 'mfa_reset' AND user_id = $1`,
    [user.id],
  );
  assert.equal(event!.actor, admin.id);
  assert.equal(event!.detail.factors_removed, 1);
  await smtp.waitFor(user.email, { kind: 'mfa_reset' });
  const unknown = await app.inject({
    method: 'DELETE',
    url: '/admin/users/00000000-0000-4000-8000-000000000000/mfa',
    headers: auth(admin.tokens.access_token),
  });
  assert.equal(unknown.statusCode, 404);
});
