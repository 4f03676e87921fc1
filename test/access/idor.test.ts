// Nobody reaches another user's data by changing an id; moderators only enable and
// disable plain users; nothing but roles and disabled is writable, and only by the
// right people; role changes, disabling and "end all sessions" end sessions at once.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { GOOD_PASSWORD, refresh, uniqueEmail, userWithRoles } from '../helpers/build.js';
import { suiteApp } from '../routes/suite-app.js';
import { assertError, bearer, newClient, revokedList, sessionRow, sidOf, userRow, type TestClient } from './helpers.js';

describe('ids, roles and mass assignment', () => {
  const ctx = suiteApp();
  const app = () => ctx().app;
  const db = () => ctx().services.db;
  let watcher: TestClient;

  const patch = (id: string, auth: Record<string, string>, payload: unknown) =>
    app().inject({ method: 'PATCH', url: `/admin/users/${id}`, headers: auth, payload: payload as object });
  const me = (accessToken: string) => app().inject({ method: 'GET', url: '/users/me', headers: bearer(accessToken) });
  const login = async (email: string, password = GOOD_PASSWORD) =>
    app().inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
  /** Everything stored about a user, to show a refused request changed nothing. */
  const fullRow = async (id: string) =>
    (await db().query<{ row: string }>('SELECT row_to_json(u)::text AS row FROM users u WHERE id = $1', [id]))[0]!.row;
  const liveSessions = async (userId: string) =>
    (
      await db().query<{ n: number }>(
        'SELECT count(*)::int AS n FROM sessions WHERE user_id = $1 AND ended_at IS NULL',
        [userId],
      )
    )[0]!.n;
  const anotherSession = async (email: string) => {
    const res = await login(email);
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ access_token: string; refresh_token: string }>();
  };

  before(async () => {
    watcher = await newClient(ctx().services, { introspect: true, scopes: ['revocations:read'] });
  });

  it('a user cannot end another user’s session by its id', async () => {
    const [alice, bob] = await Promise.all([userWithRoles(ctx(), ['user']), userWithRoles(ctx(), ['user'])]);
    const bobSid = sidOf(bob.tokens.access_token);

    const res = await app().inject({ method: 'DELETE', url: `/users/me/sessions/${bobSid}`, headers: alice.auth });
    assertError(res, 404, 'not_found');
    // Someone else's session looks exactly like no session at all.
    const none = await app().inject({
      method: 'DELETE',
      url: `/users/me/sessions/${randomUUID()}`,
      headers: alice.auth,
    });
    assertError(none, 404, 'not_found');
    assert.equal(none.body, res.body);
    assertError(
      await app().inject({ method: 'DELETE', url: '/users/me/sessions/not-a-uuid', headers: alice.auth }),
      404,
      'not_found',
    );

    const row = await sessionRow(ctx().services, bobSid);
    assert.equal(row.ended_at, null, 'bob’s session is still live');
    assert.equal(row.end_reason, null);
    assert.equal((await me(bob.tokens.access_token)).statusCode, 200);
    const rotated = await refresh(app(), bob.tokens.refresh_token);
    assert.equal(rotated.statusCode, 200, 'bob can still refresh');
    const events = await db().query(`SELECT 1 FROM security_events WHERE type = 'session_ended' AND session_id = $1`, [
      bobSid,
    ]);
    assert.equal(events.length, 0);

    // Alice's own list never shows bob's sessions.
    const list = await app().inject({ method: 'GET', url: '/users/me/sessions', headers: alice.auth });
    assert.equal(list.statusCode, 200);
    const ids = list.json<{ sessions: { id: string }[] }>().sessions.map((s) => s.id);
    assert.deepEqual(ids, [sidOf(alice.tokens.access_token)]);
  });

  it('a plain user cannot reach user administration', async () => {
    const [alice, bob] = await Promise.all([userWithRoles(ctx(), ['user']), userWithRoles(ctx(), ['user'])]);
    const [aliceBefore, bobBefore] = [await fullRow(alice.id), await fullRow(bob.id)];

    assertError(await patch(bob.id, alice.auth, { disabled: true }), 403, 'forbidden');
    assertError(await patch(bob.id, alice.auth, { roles: ['user'] }), 403, 'forbidden');
    assertError(await patch(alice.id, alice.auth, { roles: ['admin'] }), 403, 'forbidden');
    assertError(await patch(alice.id, alice.auth, { disabled: false }), 403, 'forbidden');
    assertError(await app().inject({ method: 'GET', url: '/admin/users', headers: alice.auth }), 403, 'forbidden');
    assertError(
      await app().inject({ method: 'DELETE', url: `/admin/users/${bob.id}/sessions`, headers: alice.auth }),
      403,
      'forbidden',
    );

    assert.equal(await fullRow(alice.id), aliceBefore);
    assert.equal(await fullRow(bob.id), bobBefore);
    assert.equal(await liveSessions(bob.id), 1);
  });

  it('a moderator disables and enables plain users, and nothing more', async () => {
    const [moderator, plain, otherModerator, admin, mixed] = await Promise.all([
      userWithRoles(ctx(), ['moderator']),
      userWithRoles(ctx(), ['user']),
      userWithRoles(ctx(), ['moderator']),
      userWithRoles(ctx(), ['admin']),
      userWithRoles(ctx(), ['user', 'moderator']),
    ]);

    // Listing users is allowed.
    const list = await app().inject({
      method: 'GET',
      url: `/admin/users?query=${encodeURIComponent(plain.email)}`,
      headers: moderator.auth,
    });
    assert.equal(list.statusCode, 200, list.body);
    assert.deepEqual(
      list.json<{ users: { id: string }[] }>().users.map((u) => u.id),
      [plain.id],
    );

    const disabled = await patch(plain.id, moderator.auth, { disabled: true });
    assert.equal(disabled.statusCode, 200, disabled.body);
    assert.deepEqual(disabled.json(), {
      id: plain.id,
      email: plain.email,
      roles: ['user'],
      disabled: true,
      email_verified: true,
      created_at: disabled.json<{ created_at: string }>().created_at,
    });
    assert.equal((await userRow(ctx().services, plain.id)).disabled, true);
    assert.equal(await liveSessions(plain.id), 0, 'disabling ended the sessions');
    assertError(await refresh(app(), plain.tokens.refresh_token), 400, 'invalid_grant');
    assertError(await login(plain.email), 401, 'invalid_credentials');

    const enabled = await patch(plain.id, moderator.auth, { disabled: false });
    assert.equal(enabled.statusCode, 200, enabled.body);
    assert.equal(enabled.json<{ disabled: boolean }>().disabled, false);
    assert.equal((await userRow(ctx().services, plain.id)).disabled, false);
    const back = await login(plain.email);
    assert.equal(back.statusCode, 200, 'enabled again, the user logs in');
    const plainAuth = bearer(back.json<{ access_token: string }>().access_token);

    // Not moderators, admins or anyone with more than the user role; not themselves.
    const untouched = await Promise.all(
      [otherModerator, admin, mixed, moderator].map(async (u) => [u, await fullRow(u.id)] as const),
    );
    for (const target of [otherModerator, admin, mixed, moderator]) {
      assertError(await patch(target.id, moderator.auth, { disabled: true }), 403, 'forbidden');
      assertError(await patch(target.id, moderator.auth, { disabled: false }), 403, 'forbidden');
    }
    // Never roles, not even a change to the same roles, and not with a disable alongside.
    for (const body of [
      { roles: ['moderator'] },
      { roles: ['user'] },
      { roles: ['admin'], disabled: false },
      { disabled: true, roles: ['user'] },
    ]) {
      assertError(await patch(plain.id, moderator.auth, body), 403, 'forbidden');
    }
    assertError(await patch(moderator.id, moderator.auth, { roles: ['admin'] }), 403, 'forbidden');
    assertError(await patch(plain.id, moderator.auth, { email: uniqueEmail('by-moderator') }), 403, 'forbidden');
    // Ending all of a user's sessions is an admin's job.
    assertError(
      await app().inject({ method: 'DELETE', url: `/admin/users/${plain.id}/sessions`, headers: moderator.auth }),
      403,
      'forbidden',
    );

    for (const [u, row] of untouched) assert.equal(await fullRow(u.id), row, `${u.email} unchanged`);
    const plainNow = await userRow(ctx().services, plain.id);
    assert.deepEqual([plainNow.roles, plainNow.disabled], [['user'], false]);
    assert.equal(
      (await app().inject({ method: 'GET', url: '/users/me', headers: plainAuth })).statusCode,
      200,
      'the refused attempts ended nothing',
    );
    // The moderator's changes are on record, by the moderator.
    const events = await db().query<{ type: string; by: string }>(
      `SELECT type, detail->>'by' AS by FROM security_events WHERE user_id = $1 AND type IN ('user_disabled', 'user_enabled') ORDER BY id`,
      [plain.id],
    );
    assert.deepEqual(events, [
      { type: 'user_disabled', by: moderator.id },
      { type: 'user_enabled', by: moderator.id },
    ]);
  });

  it('refuses extra fields (mass assignment) with 400 and changes nothing', async () => {
    const [admin, target] = await Promise.all([userWithRoles(ctx(), ['admin']), userWithRoles(ctx(), ['user'])]);
    const extras: Record<string, unknown>[] = [
      { roles: ['admin'] },
      { id: randomUUID() },
      { password_hash: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g' },
      { created_at: '2000-01-01T00:00:00.000Z' },
      { disabled: false },
      { sessions_revoked_at: null },
    ];

    // Registration: the email must stay unregistered whatever was tried.
    for (const extra of extras) {
      const email = uniqueEmail('mass');
      const res = await app().inject({
        method: 'POST',
        url: '/users',
        payload: { email, password: GOOD_PASSWORD, ...extra },
      });
      assertError(res, 400, 'invalid_request');
      assert.equal(
        (await db().query('SELECT 1 FROM users WHERE email = $1', [email])).length,
        0,
        `${Object.keys(extra)[0]}: no user created`,
      );
    }
    // A prototype key is refused too, not merged into anything.
    const proto = uniqueEmail('proto');
    const poisoned = await app().inject({
      method: 'POST',
      url: '/users',
      headers: { 'content-type': 'application/json' },
      payload: `{"email":"${proto}","password":"${GOOD_PASSWORD}","__proto__":{"roles":["admin"]}}`,
    });
    assertError(poisoned, 400, 'invalid_request');
    assert.equal((await db().query('SELECT 1 FROM users WHERE email = $1', [proto])).length, 0);

    // Administration: only roles, disabled and email (which moves nothing before the new address confirms), with the right types.
    const before = await fullRow(target.id);
    const adminBodies: unknown[] = [
      { disabled: false, email_verified_at: null },
      { email: 'not-an-address' },
      { roles: ['user'], password_hash: 'x' },
      { disabled: false, id: randomUUID() },
      { disabled: false, created_at: '2000-01-01T00:00:00.000Z' },
      { roles: ['user'], sessions_revoked_at: null },
      { disabled: 'true' },
      { roles: 'admin' },
      { roles: ['root'] },
      { roles: [] },
      { roles: ['user', 'user'] },
      {},
    ];
    for (const body of adminBodies) assertError(await patch(target.id, admin.auth, body), 400, 'invalid_request');
    assert.equal(await fullRow(target.id), before, 'the user row is unchanged');
    assert.equal(await liveSessions(target.id), 1, 'no session ended');

    // Password change: nothing besides the two passwords.
    const NEW_PASSWORD = 'violet-harbor-candle-82';
    for (const extra of [...extras, { email: uniqueEmail('stolen') }]) {
      const res = await app().inject({
        method: 'POST',
        url: '/users/me/password',
        headers: target.auth,
        remoteAddress: '10.20.0.1',
        payload: { current_password: GOOD_PASSWORD, new_password: NEW_PASSWORD, ...extra },
      });
      assertError(res, 400, 'invalid_request');
    }
    assert.equal(await fullRow(target.id), before, 'hash, roles, email and flags unchanged');
    assert.equal(await liveSessions(target.id), 1);
  });

  it('an admin changing roles ends the user’s sessions, and the new roles count', async () => {
    const [admin, target] = await Promise.all([userWithRoles(ctx(), ['admin']), userWithRoles(ctx(), ['user'])]);
    const second = await anotherSession(target.email);
    const since = Math.floor(Date.now() / 1000) - 2;

    // Setting the same roles again changes nothing and ends nothing.
    const same = await patch(target.id, admin.auth, { roles: ['user'] });
    assert.equal(same.statusCode, 200, same.body);
    assert.equal(await liveSessions(target.id), 2);

    const res = await patch(target.id, admin.auth, { roles: ['moderator'] });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json<{ roles: string[] }>().roles, ['moderator']);
    const row = await userRow(ctx().services, target.id);
    assert.deepEqual(row.roles, ['moderator']);
    assert.ok(row.sessions_revoked_at, 'the user’s sessions are marked revoked');

    for (const tokens of [target.tokens, second]) {
      const session = await sessionRow(ctx().services, sidOf(tokens.access_token));
      assert.ok(session.ended_at, 'session ended');
      assert.equal(session.end_reason, 'roles_changed');
      assertError(await refresh(app(), tokens.refresh_token), 400, 'invalid_grant');
      assertError(await me(tokens.access_token), 401, 'invalid_token');
    }

    // Verifiers learn of it from the revoked list.
    const revoked = await revokedList(app(), watcher, since);
    assert.equal(revoked.statusCode, 200, revoked.body);
    const body = revoked.json<{ users: { sub: string }[]; sessions: { sid: string }[] }>();
    assert.ok(
      body.users.some((u) => u.sub === target.id),
      'the user is listed',
    );
    for (const tokens of [target.tokens, second])
      assert.ok(
        body.sessions.some((s) => s.sid === sidOf(tokens.access_token)),
        'each session is listed',
      );

    // The next login carries the new role and may do what it allows.
    const relog = await anotherSession(target.email);
    assert.deepEqual(decodeJwt(relog.access_token).roles, ['moderator']);
    assert.equal(
      (await app().inject({ method: 'GET', url: '/admin/users', headers: bearer(relog.access_token) })).statusCode,
      200,
    );
    assertError(
      await app().inject({ method: 'GET', url: '/admin/keys', headers: bearer(relog.access_token) }),
      403,
      'forbidden',
    );

    // And a demotion takes the permission away again.
    assert.equal((await patch(target.id, admin.auth, { roles: ['user'] })).statusCode, 200);
    assertError(await me(relog.access_token), 401, 'invalid_token');
    const demoted = await anotherSession(target.email);
    assertError(
      await app().inject({ method: 'GET', url: '/admin/users', headers: bearer(demoted.access_token) }),
      403,
      'forbidden',
    );
    const events = await db().query<{ by: string }>(
      `SELECT detail->>'by' AS by FROM security_events WHERE type = 'roles_changed' AND user_id = $1`,
      [target.id],
    );
    assert.equal(events.length, 2, 'two changes on record, not the no-op');
    assert.ok(events.every((e) => e.by === admin.id));
  });

  it('an admin disabling a user ends the user’s sessions; enabling lets the user back in', async () => {
    const [admin, target] = await Promise.all([userWithRoles(ctx(), ['admin']), userWithRoles(ctx(), ['user'])]);
    const since = Math.floor(Date.now() / 1000) - 2;
    const res = await patch(target.id, admin.auth, { disabled: true });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json<{ disabled: boolean }>().disabled, true);
    const session = await sessionRow(ctx().services, sidOf(target.tokens.access_token));
    assert.equal(session.end_reason, 'user_disabled');
    assertError(await refresh(app(), target.tokens.refresh_token), 400, 'invalid_grant');
    assertError(await me(target.tokens.access_token), 401, 'invalid_token');
    assertError(await login(target.email), 401, 'invalid_credentials');
    const revoked = (await revokedList(app(), watcher, since)).json<{ users: { sub: string }[] }>();
    assert.ok(revoked.users.some((u) => u.sub === target.id));

    assert.equal((await patch(target.id, admin.auth, { disabled: false })).statusCode, 200);
    assert.equal((await login(target.email)).statusCode, 200);
  });

  it('the last enabled admin can neither demote nor disable themselves', async () => {
    const admin = await userWithRoles(ctx(), ['admin']);
    // Earlier tests left other admins behind: set them aside so this one is the last.
    const others = await db().query<{ id: string }>(
      `UPDATE users SET disabled = true WHERE 'admin' = ANY(roles) AND id <> $1 AND NOT disabled RETURNING id`,
      [admin.id],
    );
    try {
      const before = await fullRow(admin.id);
      for (const body of [
        { roles: ['user'] },
        { roles: ['moderator'] },
        { disabled: true },
        { roles: ['moderator', 'user'], disabled: true },
      ]) {
        const res = await patch(admin.id, admin.auth, body);
        assertError(res, 400, 'invalid_request');
        assert.equal(
          res.json<{ error_description: string }>().error_description,
          'The last enabled admin cannot be demoted or disabled',
        );
      }
      assert.equal(await fullRow(admin.id), before);
      assert.equal((await me(admin.tokens.access_token)).statusCode, 200, 'the refused change ended no session');

      // With a second enabled admin, stepping down is allowed, and ends the admin's sessions.
      const successor = await userWithRoles(ctx(), ['admin']);
      const res = await patch(admin.id, admin.auth, { roles: ['user'] });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual((await userRow(ctx().services, admin.id)).roles, ['user']);
      assertError(await me(admin.tokens.access_token), 401, 'invalid_token');
      // Now the successor is the last one.
      assertError(await patch(successor.id, successor.auth, { disabled: true }), 400, 'invalid_request');
      assert.deepEqual((await userRow(ctx().services, successor.id)).roles, ['admin']);
    } finally {
      await db().query('UPDATE users SET disabled = false WHERE id = ANY($1::uuid[])', [others.map((o) => o.id)]);
    }
  });

  it('two last admins demoting each other at the same time leave one admin standing', async () => {
    const [a, b] = await Promise.all([userWithRoles(ctx(), ['admin']), userWithRoles(ctx(), ['admin'])]);
    const others = await db().query<{ id: string }>(
      `UPDATE users SET disabled = true WHERE 'admin' = ANY(roles) AND id <> ALL($1::uuid[]) AND NOT disabled RETURNING id`,
      [[a.id, b.id]],
    );
    try {
      let auth = { a: a.auth, b: b.auth };
      for (let round = 0; round < 4; round++) {
        const [ab, ba] = await Promise.all([
          patch(b.id, auth.a, { roles: ['user'] }),
          patch(a.id, auth.b, { disabled: true }),
        ]);
        const [enabled] = await db().query<{ n: number }>(
          `SELECT count(*)::int AS n FROM users WHERE 'admin' = ANY(roles) AND NOT disabled`,
        );
        assert.equal(
          enabled!.n,
          1,
          `round ${round}: exactly one enabled admin remains (answers ${ab.statusCode}, ${ba.statusCode})`,
        );
        assert.equal(
          [ab.statusCode, ba.statusCode].filter((s) => s === 200).length,
          1,
          `round ${round}: one change went through`,
        );
        // Both admins again, for the next round.
        await db().query(`UPDATE users SET roles = '{admin}', disabled = false WHERE id = ANY($1::uuid[])`, [
          [a.id, b.id],
        ]);
        const [la, lb] = await Promise.all([login(a.email), login(b.email)]);
        auth = {
          a: bearer(la.json<{ access_token: string }>().access_token),
          b: bearer(lb.json<{ access_token: string }>().access_token),
        };
      }
    } finally {
      await db().query('UPDATE users SET disabled = false WHERE id = ANY($1::uuid[])', [others.map((o) => o.id)]);
    }
  });

  it('DELETE /admin/users/{id}/sessions ends every session of the user', async () => {
    const [admin, target, bystander] = await Promise.all([
      userWithRoles(ctx(), ['admin']),
      userWithRoles(ctx(), ['user']),
      userWithRoles(ctx(), ['user']),
    ]);
    const sessions = [target.tokens, await anotherSession(target.email), await anotherSession(target.email)];
    const since = Math.floor(Date.now() / 1000) - 2;

    const res = await app().inject({
      method: 'DELETE',
      url: `/admin/users/${target.id}/sessions`,
      headers: admin.auth,
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { ended: 3 });
    for (const tokens of sessions) {
      const row = await sessionRow(ctx().services, sidOf(tokens.access_token));
      assert.equal(row.end_reason, 'ended_by_admin');
      assertError(await refresh(app(), tokens.refresh_token), 400, 'invalid_grant');
      assertError(await me(tokens.access_token), 401, 'invalid_token');
    }
    assert.equal(await liveSessions(target.id), 0);
    assert.equal(await liveSessions(bystander.id), 1, 'nobody else’s sessions ended');
    const row = await userRow(ctx().services, target.id);
    assert.equal(row.disabled, false, 'the account stays enabled');
    assert.ok(row.sessions_revoked_at);
    const revoked = (await revokedList(app(), watcher, since)).json<{ users: { sub: string }[] }>();
    assert.ok(revoked.users.some((u) => u.sub === target.id));
    assert.ok(!revoked.users.some((u) => u.sub === bystander.id));

    // Once more: nothing left to end; the user may log in again.
    assert.deepEqual(
      (await app().inject({ method: 'DELETE', url: `/admin/users/${target.id}/sessions`, headers: admin.auth })).json(),
      { ended: 0 },
    );
    assert.equal((await login(target.email)).statusCode, 200);
    assertError(
      await app().inject({ method: 'DELETE', url: `/admin/users/${randomUUID()}/sessions`, headers: admin.auth }),
      404,
      'not_found',
    );
    assertError(
      await app().inject({ method: 'DELETE', url: '/admin/users/not-a-uuid/sessions', headers: admin.auth }),
      400,
      'invalid_request',
    );
    assertError(await patch(randomUUID(), admin.auth, { disabled: true }), 404, 'not_found');
  });
});
