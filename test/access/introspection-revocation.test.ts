// RFC 7662 introspection (only for clients allowed to introspect; inactive is
// {"active": false} and nothing more), RFC 7009 revocation (200 for anything invalid; a
// user token ends its session; another client's token is refused), and the revoked
// list verifiers poll.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { GOOD_PASSWORD, refresh, userWithRoles } from '../helpers/build.js';
import { suiteApp } from '../routes/suite-app.js';
import {
  assertError,
  basic,
  bearer,
  clientToken,
  expiredCopy,
  FORM,
  forgeries,
  form,
  introspect,
  kidOf,
  newClient,
  otherAudienceCopy,
  revoke,
  revokedList,
  sessionRow,
  sidOf,
  type TestClient,
  type Tokens,
} from './helpers.js';

const ISSUER = 'http://localhost:3000';
const REPORTS = 'https://reports.example';
const INACTIVE = { active: false };

describe('introspection, revocation and the revoked list', () => {
  const ctx = suiteApp({ AUDIENCES: REPORTS });
  const app = () => ctx().app;
  let inspector: TestClient;
  let outsider: TestClient;
  let service: TestClient;

  const userinfo = (accessToken: string) =>
    app().inject({ method: 'GET', url: '/userinfo', headers: bearer(accessToken) });
  const seen = async (token: string, extra: Record<string, string> = {}) => {
    const res = await introspect(app(), inspector, token, extra);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    return res.json<Record<string, unknown>>();
  };
  const login = async (email: string, extra: Record<string, string> = {}): Promise<Tokens> => {
    const res = await app().inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: GOOD_PASSWORD, ...extra },
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<Tokens>();
  };
  const endedCount = async () =>
    (
      await ctx().services.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions WHERE ended_at IS NOT NULL')
    )[0]!.n;

  before(async () => {
    inspector = await newClient(ctx().services, { introspect: true, scopes: ['introspection'], name: 'gateway' });
    outsider = await newClient(ctx().services, { introspect: false, scopes: ['reports:read'], name: 'reports' });
    service = await newClient(ctx().services, {
      introspect: false,
      scopes: ['reports:read', 'reports:write'],
      name: 'batch',
    });
  });

  describe('POST /oauth/introspect', () => {
    it('needs an authenticated client that is allowed to introspect', async () => {
      const user = await userWithRoles(ctx(), ['user']);
      const token = user.tokens.access_token;
      const challenged = (res: Awaited<ReturnType<typeof introspect>>) => {
        assertError(res, 401, 'invalid_client');
        assert.match(String(res.headers['www-authenticate']), /^Basic realm="[^"]+"/);
        assert.ok(!res.body.includes('active'));
      };
      challenged(await introspect(app(), undefined, token));
      // A user's bearer token is no client authentication.
      challenged(
        await app().inject({
          method: 'POST',
          url: '/oauth/introspect',
          headers: { ...FORM, ...bearer(token) },
          payload: form({ token }),
        }),
      );
      challenged(await introspect(app(), { id: inspector.id, secret: `${inspector.secret}x` }, token));
      challenged(await introspect(app(), { id: 'no-such-client-000000', secret: inspector.secret }, token));
      challenged(
        await app().inject({
          method: 'POST',
          url: '/oauth/introspect',
          headers: FORM,
          payload: form({ token, client_id: inspector.id }),
        }),
      );

      // A real client without the introspect permission: refused, whichever way it authenticates.
      const refused = await introspect(app(), outsider, token);
      assertError(refused, 403, 'unauthorized_client');
      assert.ok(!refused.body.includes('active'));
      const refusedPost = await app().inject({
        method: 'POST',
        url: '/oauth/introspect',
        headers: FORM,
        payload: form({ token, client_id: outsider.id, client_secret: outsider.secret }),
      });
      assertError(refusedPost, 403, 'unauthorized_client');

      // Two authentication methods at once are a malformed request.
      const both = await app().inject({
        method: 'POST',
        url: '/oauth/introspect',
        headers: { ...FORM, ...basic(inspector.id, inspector.secret) },
        payload: form({ token, client_id: inspector.id, client_secret: inspector.secret }),
      });
      assertError(both, 400, 'invalid_request');

      // The allowed client, by either method.
      assert.equal((await seen(token)).active, true);
      const viaPost = await app().inject({
        method: 'POST',
        url: '/oauth/introspect',
        headers: FORM,
        payload: form({ token, client_id: inspector.id, client_secret: inspector.secret }),
      });
      assert.equal(viaPost.statusCode, 200, viaPost.body);
      assert.equal(viaPost.json<{ active: boolean }>().active, true);
    });

    it('describes a live user token and a live client token', async () => {
      const user = await userWithRoles(ctx(), ['moderator']);
      const body = await seen(user.tokens.access_token);
      assert.equal(body.active, true);
      assert.equal(body.sub, user.id);
      assert.equal(body.username, user.email);
      assert.equal(body.client_id, 'tessera');
      assert.equal(body.scope, 'openid profile email');
      assert.equal(body.sid, sidOf(user.tokens.access_token));
      assert.equal(body.token_type, 'Bearer');
      assert.equal(body.iss, ISSUER);
      assert.equal(body.aud, ISSUER);
      assert.deepEqual(body.roles, ['moderator']);
      assert.ok(Number.isInteger(body.iat) && Number.isInteger(body.exp));
      assert.equal(body.exp, (body.iat as number) + ctx().config.accessTokenTtl);
      assert.ok(Math.abs((body.iat as number) - Date.now() / 1000) < 30);

      // A token for one of the configured resources is live too.
      const forReports = await login(user.email, { resource: REPORTS });
      const reports = await seen(forReports.access_token);
      assert.equal(reports.active, true);
      assert.equal(reports.aud, REPORTS);

      const clientAccess = await clientToken(app(), service, { scope: 'reports:read' });
      const c = await seen(clientAccess, { token_type_hint: 'access_token' });
      assert.equal(c.active, true);
      assert.equal(c.sub, service.id);
      assert.equal(c.client_id, service.id);
      assert.equal(c.scope, 'reports:read');
      assert.equal(c.sid, undefined, 'a client token has no session');
      assert.equal(c.username, undefined);
      assert.equal(c.roles, undefined);
    });

    it('answers {"active": false} and nothing more for every dead or foreign token', async () => {
      const [live, loggedOut, flagged, disabledByAdmin, admin] = await Promise.all([
        userWithRoles(ctx(), ['admin']),
        userWithRoles(ctx(), ['user']),
        userWithRoles(ctx(), ['user']),
        userWithRoles(ctx(), ['user']),
        userWithRoles(ctx(), ['admin']),
      ]);
      assert.equal((await revoke(app(), loggedOut.tokens.refresh_token)).statusCode, 200);
      // Disabled in the database only (its session still live), and through the admin API.
      await ctx().services.db.query('UPDATE users SET disabled = true WHERE id = $1', [flagged.id]);
      assert.equal(
        (
          await app().inject({
            method: 'PATCH',
            url: `/admin/users/${disabledByAdmin.id}`,
            headers: admin.auth,
            payload: { disabled: true },
          })
        ).statusCode,
        200,
      );
      const gone = await newClient(ctx().services, { scopes: ['reports:read'] });
      const goneToken = await clientToken(app(), gone);
      await ctx().services.db.query('UPDATE clients SET disabled = true WHERE id = $1', [gone.id]);
      const jwks = (await app().inject({ method: 'GET', url: '/.well-known/jwks.json' })).json<{
        keys: { kid: string }[];
      }>();
      const forged = await forgeries(
        live.tokens.access_token,
        jwks.keys.find((k) => k.kid === kidOf(live.tokens.access_token))!,
      );

      const cases: Record<string, string> = {
        'an expired token': await expiredCopy(ctx().services, live.tokens.access_token),
        'the token of a logged-out session': loggedOut.tokens.access_token,
        'the token of a disabled user (session live)': flagged.tokens.access_token,
        'the token of a user disabled by an admin': disabledByAdmin.tokens.access_token,
        'a refresh token': live.tokens.refresh_token,
        'a token for an audience Tessera does not serve': await otherAudienceCopy(
          ctx().services,
          live.tokens.access_token,
          'https://elsewhere.example',
        ),
        'the token of a disabled client': goneToken,
        garbage: 'garbage',
        'three dots': 'a.b.c',
        'an oversized token': `${live.tokens.access_token}${'A'.repeat(9000)}`,
        ...forged,
      };
      for (const [what, token] of Object.entries(cases)) {
        assert.deepEqual(await seen(token), INACTIVE, what);
      }
      // A hint changes nothing: a refresh token is never active here.
      assert.deepEqual(await seen(live.tokens.refresh_token, { token_type_hint: 'refresh_token' }), INACTIVE);
      // The live token in the same batch is active: the cases above fail for their own reason.
      assert.equal((await seen(live.tokens.access_token)).active, true);
      assert.equal((await seen(await clientToken(app(), service))).active, true);
    });
  });

  describe('POST /oauth/revoke', () => {
    it('answers 200 to an invalid token and changes nothing', async () => {
      const user = await userWithRoles(ctx(), ['user']);
      const before = await endedCount();
      for (const token of [
        'garbage',
        'a.b.c',
        `${user.tokens.refresh_token.slice(0, -4)}AAAA`,
        await expiredCopy(ctx().services, user.tokens.access_token),
      ]) {
        const res = await revoke(app(), token);
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.body, '{}');
        assert.equal(res.headers['cache-control'], 'no-store');
      }
      assert.equal(await endedCount(), before, 'no session ended');
      assert.equal((await userinfo(user.tokens.access_token)).statusCode, 200);
      // A missing token is a malformed request, not an invalid token.
      assertError(
        await app().inject({
          method: 'POST',
          url: '/oauth/revoke',
          headers: FORM,
          payload: form({ token_type_hint: 'access_token' }),
        }),
        400,
        'invalid_request',
      );
    });

    it('revoking a user’s access token ends its whole session', async () => {
      const [hinted, unhinted] = await Promise.all([userWithRoles(ctx(), ['user']), userWithRoles(ctx(), ['user'])]);
      for (const [user, extra] of [
        [hinted, { token_type_hint: 'access_token' }],
        [unhinted, {}],
      ] as const) {
        const res = await revoke(app(), user.tokens.access_token, extra);
        assert.equal(res.statusCode, 200, res.body);
        const row = await sessionRow(ctx().services, sidOf(user.tokens.access_token));
        assert.ok(row.ended_at, 'the session ended');
        assert.equal(row.end_reason, 'revoked');
        assertError(await refresh(app(), user.tokens.refresh_token), 400, 'invalid_grant');
        assertError(await userinfo(user.tokens.access_token), 401, 'invalid_token');
        assert.deepEqual(await seen(user.tokens.access_token), INACTIVE);
      }
    });

    it('refuses to revoke a token of a session that belongs to another client', async () => {
      const user = await userWithRoles(ctx(), ['user']);
      const sid = sidOf(user.tokens.access_token);
      // An authenticated client that did not get this token.
      for (const token of [user.tokens.refresh_token, user.tokens.access_token]) {
        assertError(await revoke(app(), token, {}, basic(outsider.id, outsider.secret)), 400, 'unauthorized_client');
        assertError(
          await revoke(app(), token, { client_id: outsider.id, client_secret: outsider.secret }),
          400,
          'unauthorized_client',
        );
        // A caller merely naming a confidential client is not that client (RFC 7009 2.1).
        assertError(await revoke(app(), token, { client_id: outsider.id }), 401, 'invalid_client');
      }
      // A client with a wrong secret is not authenticated at all.
      assertError(
        await revoke(app(), user.tokens.refresh_token, {}, basic(outsider.id, 'wrong')),
        401,
        'invalid_client',
      );
      const row = await sessionRow(ctx().services, sid);
      assert.equal(row.ended_at, null, 'the session is untouched');
      assert.equal((await userinfo(user.tokens.access_token)).statusCode, 200);
      const rotated = await refresh(app(), user.tokens.refresh_token);
      assert.equal(rotated.statusCode, 200, 'the refresh token was not retired');

      // The client the session belongs to (the first-party one) may.
      assert.equal((await revoke(app(), rotated.json<Tokens>().refresh_token)).statusCode, 200);
      assert.ok((await sessionRow(ctx().services, sid)).ended_at);
    });
  });

  describe('GET /oauth/revoked', () => {
    it('needs a client allowed to introspect', async () => {
      const user = await userWithRoles(ctx(), ['admin']);
      const since = Math.floor(Date.now() / 1000);
      assertError(await revokedList(app(), undefined, since), 401, 'invalid_client');
      assertError(
        await app().inject({ method: 'GET', url: `/oauth/revoked?since=${since}`, headers: user.auth }),
        401,
        'invalid_client',
      );
      assertError(await revokedList(app(), { id: inspector.id, secret: 'wrong' }, since), 401, 'invalid_client');
      assertError(await revokedList(app(), outsider, since), 403, 'unauthorized_client');
      const ok = await revokedList(app(), inspector, since);
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.headers['cache-control'], 'no-store');
      assert.deepEqual(Object.keys(ok.json<object>()).sort(), [
        'clients',
        'jtis',
        'sessions',
        'since',
        'until',
        'users',
      ]);
      for (const bad of ['abc', '-1', '', '1.5', '1e9'])
        assertError(await revokedList(app(), inspector, bad), 400, 'invalid_request');
    });

    it('lists ended sessions and users whose sessions all ended, since T', async () => {
      const [admin, early, loggedOut, everywhere, bystander] = await Promise.all([
        userWithRoles(ctx(), ['admin']),
        userWithRoles(ctx(), ['user']),
        userWithRoles(ctx(), ['user']),
        userWithRoles(ctx(), ['user']),
        userWithRoles(ctx(), ['user']),
      ]);
      // Ended before T: not listed.
      assert.equal((await revoke(app(), early.tokens.refresh_token)).statusCode, 200);
      await sleep(1100);
      const since = Math.floor(Date.now() / 1000);
      assert.equal((await revoke(app(), loggedOut.tokens.refresh_token)).statusCode, 200);
      const second = await login(everywhere.email);
      const ended = await app().inject({
        method: 'DELETE',
        url: `/admin/users/${everywhere.id}/sessions`,
        headers: admin.auth,
      });
      assert.deepEqual(ended.json(), { ended: 2 });

      const res = await revokedList(app(), inspector, since);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json<{
        since: number;
        until: number;
        sessions: { sid: string; ended_at: number }[];
        users: { sub: string; ended_at: number }[];
      }>();
      assert.equal(body.since, since);
      assert.ok(body.until >= since && body.until <= Math.ceil(Date.now() / 1000) + 1);
      const sids = body.sessions.map((s) => s.sid);
      const subs = body.users.map((u) => u.sub);
      assert.ok(sids.includes(sidOf(loggedOut.tokens.access_token)), 'the logged-out session');
      assert.ok(
        sids.includes(sidOf(everywhere.tokens.access_token)) && sids.includes(sidOf(second.access_token)),
        'both sessions ended by the admin',
      );
      assert.ok(!sids.includes(sidOf(early.tokens.access_token)), 'not what ended before T');
      assert.ok(!sids.includes(sidOf(bystander.tokens.access_token)), 'not live sessions');
      assert.ok(subs.includes(everywhere.id), 'the user whose sessions were all ended');
      assert.ok(!subs.includes(loggedOut.id), 'one logout does not list the user');
      assert.ok(!subs.includes(bystander.id));
      for (const entry of [...body.sessions, ...body.users]) {
        assert.ok(
          Number.isInteger(entry.ended_at) && entry.ended_at >= since && entry.ended_at <= body.until,
          JSON.stringify(entry),
        );
      }

      // A time in the future is no way to see more: the answer starts no earlier than asked or now.
      const future = (await revokedList(app(), inspector, since + 3600)).json<typeof body>();
      assert.ok(future.since >= Math.min(since + 3600, Math.floor(Date.now() / 1000) - 1), `since ${future.since}`);
      for (const entry of [...future.sessions, ...future.users]) assert.ok(entry.ended_at >= future.since);
    });

    it('clamps an old since to the access token lifetime', async () => {
      const floor = () => Math.floor(Date.now() / 1000) - ctx().config.accessTokenTtl - 60;
      for (const since of ['0', '1', String(floor() - 3600)]) {
        const low = floor();
        const res = await revokedList(app(), inspector, since);
        assert.equal(res.statusCode, 200, res.body);
        const body = res.json<{ since: number; sessions: { ended_at: number }[] }>();
        assert.ok(
          body.since >= low && body.since <= floor() + 1,
          `since ${since} clamped to ${body.since}, about ${low}`,
        );
        assert.ok(body.sessions.every((s) => s.ended_at >= body.since));
      }
    });
  });

  // Last: revoking the signing key invalidates every token it signed, so nothing after it may rely on older tokens.
  it('a token signed by a revoked key is inactive, and refused everywhere', async () => {
    const [admin, user] = await Promise.all([userWithRoles(ctx(), ['admin']), userWithRoles(ctx(), ['user'])]);
    const clientAccess = await clientToken(app(), service);
    const kid = kidOf(user.tokens.access_token);
    assert.equal(kidOf(clientAccess), kid);
    assert.equal((await seen(user.tokens.access_token)).active, true);

    const res = await app().inject({ method: 'POST', url: `/admin/keys/${kid}/revoke`, headers: admin.auth });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(await seen(user.tokens.access_token), INACTIVE);
    assert.deepEqual(await seen(clientAccess), INACTIVE);
    assertError(await userinfo(user.tokens.access_token), 401, 'invalid_token');
    // The session itself lives on: a refresh gets a token from the new key, and it is active.
    const rotated = await refresh(app(), user.tokens.refresh_token);
    assert.equal(rotated.statusCode, 200, rotated.body);
    const fresh = rotated.json<Tokens>().access_token;
    assert.notEqual(kidOf(fresh), kid);
    assert.equal((await seen(fresh)).active, true);
    assert.equal((await seen(await clientToken(app(), service))).active, true);
  });
});
