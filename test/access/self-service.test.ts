// Self-service: one's own profile, password change (current password required, ends
// every other session), the list of one's sessions, ending one, and logout through
// RFC 7009 revocation.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GOOD_PASSWORD, refresh, uniqueEmail, userWithRoles } from '../helpers/build.js';
import { suiteApp } from '../routes/suite-app.js';
import {
  assertError,
  bearer,
  newClient,
  revoke,
  revokedList,
  sessionRow,
  sidOf,
  userRow,
  UUID,
  type Tokens,
} from './helpers.js';

const NEW_PASSWORD = 'marble-fjord-lantern-61';
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

describe('self-service', () => {
  const ctx = suiteApp();
  const app = () => ctx().app;

  const login = (email: string, password: string, extra: { userAgent?: string; ip?: string } = {}) =>
    app().inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password },
      headers: extra.userAgent ? { 'user-agent': extra.userAgent } : {},
      ...(extra.ip ? { remoteAddress: extra.ip } : {}),
    });
  const loggedIn = async (
    email: string,
    password: string,
    extra: { userAgent?: string; ip?: string } = {},
  ): Promise<Tokens> => {
    const res = await login(email, password, extra);
    assert.equal(res.statusCode, 200, res.body);
    return res.json<Tokens>();
  };
  const changePassword = (tokens: Tokens, body: Record<string, unknown>) =>
    app().inject({ method: 'POST', url: '/users/me/password', headers: bearer(tokens.access_token), payload: body });
  const userinfo = (accessToken: string) =>
    app().inject({ method: 'GET', url: '/userinfo', headers: bearer(accessToken) });

  it('GET /users/me answers the caller’s own profile and nothing secret', async () => {
    const user = await userWithRoles(ctx(), ['moderator']);
    const res = await app().inject({ method: 'GET', url: '/users/me', headers: user.auth });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = res.json<Record<string, unknown>>();
    assert.deepEqual(Object.keys(body).sort(), ['created_at', 'email', 'email_verified', 'id', 'roles']);
    assert.equal(body.id, user.id);
    assert.equal(body.email, user.email);
    assert.deepEqual(body.roles, ['moderator']);
    assert.match(String(body.created_at), ISO);
    const row = await userRow(ctx().services, user.id);
    assert.equal(new Date(String(body.created_at)).getTime(), new Date(row.created_at).getTime());
    assert.ok(!res.body.includes('argon2'), 'no password hash');
  });

  it('changing the password needs the current one and ends every other session', async () => {
    const user = await userWithRoles(ctx(), ['user']);
    const current = user.tokens; // the session the change is made from
    const others = [await loggedIn(user.email, GOOD_PASSWORD), await loggedIn(user.email, GOOD_PASSWORD)];
    const hashBefore = (await userRow(ctx().services, user.id)).password_hash;

    // A wrong current password: refused as a credential failure, nothing changes.
    assertError(
      await changePassword(current, { current_password: 'not-the-password-at-all', new_password: NEW_PASSWORD }),
      401,
      'invalid_credentials',
    );
    // A weak new password: refused by the policy.
    for (const weak of ['short', 'password1234', user.email]) {
      assertError(
        await changePassword(current, { current_password: GOOD_PASSWORD, new_password: weak }),
        400,
        'weak_password',
      );
    }
    assert.equal((await userRow(ctx().services, user.id)).password_hash, hashBefore, 'the hash is unchanged');
    for (const s of others)
      assert.equal((await sessionRow(ctx().services, sidOf(s.access_token))).ended_at, null, 'no session ended yet');
    const failures = await ctx().services.db.query(
      `SELECT 1 FROM security_events WHERE type = 'password_change_failure' AND user_id = $1`,
      [user.id],
    );
    assert.equal(failures.length, 1, 'the wrong current password is on record');

    const res = await changePassword(current, { current_password: GOOD_PASSWORD, new_password: NEW_PASSWORD });
    assert.equal(res.statusCode, 204, res.body);
    assert.equal(res.body, '');
    const row = await userRow(ctx().services, user.id);
    assert.notEqual(row.password_hash, hashBefore);
    assert.match(row.password_hash, /^\$argon2id\$/);
    assert.ok(!row.password_hash.includes(NEW_PASSWORD));

    // Every other session is over, at once and for refresh.
    for (const s of others) {
      const session = await sessionRow(ctx().services, sidOf(s.access_token));
      assert.ok(session.ended_at);
      assert.equal(session.end_reason, 'password_changed');
      assertError(await refresh(app(), s.refresh_token), 400, 'invalid_grant');
      assertError(await userinfo(s.access_token), 401, 'invalid_token');
    }
    // The session the change was made from goes on.
    assert.equal((await userinfo(current.access_token)).statusCode, 200);
    const rotated = await refresh(app(), current.refresh_token);
    assert.equal(rotated.statusCode, 200, rotated.body);
    assert.equal((await userinfo(rotated.json<Tokens>().access_token)).statusCode, 200);

    // Only the new password logs in.
    assertError(await login(user.email, GOOD_PASSWORD), 401, 'invalid_credentials');
    assert.equal((await login(user.email, NEW_PASSWORD)).statusCode, 200);
    // Verifiers learn which sessions ended; the user is not listed, one session lives on.
    const watcher = await newClient(ctx().services, { introspect: true });
    const revoked = (await revokedList(app(), watcher, Math.floor(Date.now() / 1000) - 30)).json<{
      sessions: { sid: string }[];
      users: { sub: string }[];
    }>();
    for (const s of others) assert.ok(revoked.sessions.some((r) => r.sid === sidOf(s.access_token)));
    assert.ok(!revoked.sessions.some((r) => r.sid === sidOf(current.access_token)));
    assert.ok(!revoked.users.some((u) => u.sub === user.id));
    const events = await ctx().services.db.query<{ ended: string }>(
      `SELECT detail->>'other_sessions_ended' AS ended FROM security_events WHERE type = 'password_changed' AND user_id = $1`,
      [user.id],
    );
    assert.deepEqual(events, [{ ended: '2' }]);
  });

  it('lists the caller’s live sessions with their details and marks the current one', async () => {
    const user = await userWithRoles(ctx(), ['user']);
    const phone = await loggedIn(user.email, GOOD_PASSWORD, { userAgent: 'PhoneApp/2.1 (test)', ip: '10.30.0.7' });
    const laptop = await loggedIn(user.email, GOOD_PASSWORD, { userAgent: 'Laptop/5.0', ip: '10.30.0.8' });
    const stranger = await userWithRoles(ctx(), ['user']);
    // The first session (from userWithRoles) is ended, so it is not listed.
    assert.equal((await revoke(app(), user.tokens.refresh_token)).statusCode, 200);

    const res = await app().inject({ method: 'GET', url: '/users/me/sessions', headers: bearer(laptop.access_token) });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    const sessions = res.json<{ sessions: Record<string, unknown>[] }>().sessions;
    assert.deepEqual(sessions.map((s) => s.id).sort(), [sidOf(phone.access_token), sidOf(laptop.access_token)].sort());
    assert.ok(!sessions.some((s) => s.id === sidOf(stranger.tokens.access_token)));
    const byId = new Map(sessions.map((s) => [s.id, s]));
    const laptopView = byId.get(sidOf(laptop.access_token))!;
    const phoneView = byId.get(sidOf(phone.access_token))!;
    assert.deepEqual(Object.keys(laptopView).sort(), [
      'client_id',
      'created_at',
      'current',
      'expires_at',
      'id',
      'ip',
      'last_used_at',
      'user_agent',
    ]);
    assert.equal(laptopView.current, true);
    assert.equal(phoneView.current, false);
    assert.equal(laptopView.user_agent, 'Laptop/5.0');
    assert.equal(phoneView.user_agent, 'PhoneApp/2.1 (test)');
    assert.equal(laptopView.ip, '10.30.0.8');
    assert.equal(phoneView.ip, '10.30.0.7');
    for (const s of sessions) {
      assert.match(String(s.id), UUID);
      assert.equal(s.client_id, 'tessera');
      for (const field of ['created_at', 'last_used_at', 'expires_at']) assert.match(String(s[field]), ISO, field);
      assert.ok(Date.parse(String(s.last_used_at)) >= Date.parse(String(s.created_at)));
      assert.ok(Date.parse(String(s.expires_at)) > Date.now());
    }
    // The same list, seen from the phone, marks the phone.
    const fromPhone = (
      await app().inject({ method: 'GET', url: '/users/me/sessions', headers: bearer(phone.access_token) })
    ).json<{ sessions: { id: string; current: boolean }[] }>();
    assert.deepEqual(
      fromPhone.sessions.filter((s) => s.current).map((s) => s.id),
      [sidOf(phone.access_token)],
    );

    // A refresh moves last_used_at.
    const before = Date.parse(String(phoneView.last_used_at));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const rotated = await refresh(app(), phone.refresh_token);
    assert.equal(rotated.statusCode, 200);
    const after = (
      await app().inject({ method: 'GET', url: '/users/me/sessions', headers: bearer(laptop.access_token) })
    ).json<{ sessions: { id: string; last_used_at: string }[] }>();
    assert.ok(Date.parse(after.sessions.find((s) => s.id === sidOf(phone.access_token))!.last_used_at) > before);
  });

  it('ends one of the caller’s sessions, the current one included', async () => {
    const user = await userWithRoles(ctx(), ['user']);
    const other = await loggedIn(user.email, GOOD_PASSWORD);
    const otherSid = sidOf(other.access_token);

    const res = await app().inject({ method: 'DELETE', url: `/users/me/sessions/${otherSid}`, headers: user.auth });
    assert.equal(res.statusCode, 204, res.body);
    assert.equal(res.body, '');
    const row = await sessionRow(ctx().services, otherSid);
    assert.ok(row.ended_at);
    assert.equal(row.end_reason, 'ended_by_user');
    assertError(await refresh(app(), other.refresh_token), 400, 'invalid_grant');
    assertError(await userinfo(other.access_token), 401, 'invalid_token');
    const list = (await app().inject({ method: 'GET', url: '/users/me/sessions', headers: user.auth })).json<{
      sessions: { id: string }[];
    }>();
    assert.deepEqual(
      list.sessions.map((s) => s.id),
      [sidOf(user.tokens.access_token)],
    );
    // Ended once is ended: the second time it is not found.
    assertError(
      await app().inject({ method: 'DELETE', url: `/users/me/sessions/${otherSid}`, headers: user.auth }),
      404,
      'not_found',
    );

    // Ending the current session works like a logout.
    const own = await app().inject({
      method: 'DELETE',
      url: `/users/me/sessions/${sidOf(user.tokens.access_token)}`,
      headers: user.auth,
    });
    assert.equal(own.statusCode, 204);
    assertError(await userinfo(user.tokens.access_token), 401, 'invalid_token');
    assertError(await refresh(app(), user.tokens.refresh_token), 400, 'invalid_grant');
  });

  it('logout: revoking the refresh token ends the session at once', async () => {
    const email = uniqueEmail('logout');
    const reg = await app().inject({ method: 'POST', url: '/users', payload: { email, password: GOOD_PASSWORD } });
    assert.equal(reg.statusCode, 201, reg.body);
    const tokens = await loggedIn(email, GOOD_PASSWORD);
    const keep = await loggedIn(email, GOOD_PASSWORD);
    assert.equal((await userinfo(tokens.access_token)).statusCode, 200);

    const res = await revoke(app(), tokens.refresh_token, { token_type_hint: 'refresh_token' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.body, '{}');
    assert.equal(res.headers['cache-control'], 'no-store');
    const row = await sessionRow(ctx().services, sidOf(tokens.access_token));
    assert.ok(row.ended_at);
    assert.equal(row.end_reason, 'revoked');
    assertError(await refresh(app(), tokens.refresh_token), 400, 'invalid_grant');
    const info = await userinfo(tokens.access_token);
    assertError(info, 401, 'invalid_token');
    assert.match(String(info.headers['www-authenticate']), /^Bearer realm="[^"]+", error="invalid_token"$/);
    // Revoking again is fine (RFC 7009) and changes nothing.
    assert.equal((await revoke(app(), tokens.refresh_token)).statusCode, 200);
    // The user's other session is not touched.
    assert.equal((await userinfo(keep.access_token)).statusCode, 200);
    assert.equal((await refresh(app(), keep.refresh_token)).statusCode, 200);
  });
});
