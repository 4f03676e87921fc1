// Signing-key lifecycle through the admin API: publish ahead, promote, retire, revoke.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeProtectedHeader } from 'jose';
import { build, refresh, userWithRoles, registerAndLogin, GOOD_PASSWORD } from '../helpers/build.js';
import { loadConfig, ConfigError } from '../../src/config/config.js';

const jwksKids = async (app: Awaited<ReturnType<typeof build>>['app']) =>
  (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' }))
    .json()
    .keys.map((k: { kid: string }) => k.kid) as string[];

const kidOf = (token: string) => decodeProtectedHeader(token).kid as string;

test('a rotation publishes the next key first, then signs with it after KEY_PUBLISH_AHEAD', async (t) => {
  const built = await build(t, { JWKS_MAX_AGE: '1', KEY_PUBLISH_AHEAD: '1', KEY_SYNC_INTERVAL: '1' });
  const { app, services } = built;
  const admin = await userWithRoles(built, ['admin']);
  const oldKid = kidOf(admin.tokens.access_token);

  const rotated = await app.inject({ method: 'POST', url: '/admin/keys/rotate', headers: admin.auth, payload: {} });
  assert.equal(rotated.statusCode, 200, rotated.body);
  const next = rotated.json();
  assert.equal(next.state, 'next');
  assert.equal(next.created, true);
  assert.ok((await jwksKids(app)).includes(next.kid), 'the next key is published at once');

  // Before activates_at: still signing with the old key.
  const early = await registerAndLogin(app);
  assert.equal(kidOf(early.tokens.access_token), oldKid);
  const again = await app.inject({ method: 'POST', url: '/admin/keys/rotate', headers: admin.auth, payload: {} });
  assert.equal(again.json().kid, next.kid, 'one rotation pending at a time');
  assert.equal(again.json().created, false);

  // Signing starts KEY_PUBLISH_AHEAD + one sync interval after the rotation.
  assert.ok(Date.parse(next.activates_at) - Date.now() > 1500, 'activates after publish-ahead plus a sync interval');
  await sleep(Math.max(0, Date.parse(next.activates_at) - Date.now()) + 100);
  await services.syncKeys();
  const late = await registerAndLogin(app);
  assert.equal(kidOf(late.tokens.access_token), next.kid, 'the promoted key signs');
  const kids = await jwksKids(app);
  assert.ok(kids.includes(oldKid), 'the retired key stays published');
  const [retired] = await services.db.query<{ state: string; expires_at: Date }>(
    'SELECT state, expires_at FROM signing_keys WHERE kid = $1',
    [oldKid],
  );
  assert.equal(retired?.state, 'retired');
  assert.ok(new Date(retired.expires_at).getTime() > Date.now() + 600_000, 'kept at least one access-token lifetime');
  // Tokens signed by the retired key still work at our own endpoints.
  const me = await app.inject({
    method: 'GET',
    url: '/userinfo',
    headers: { authorization: `Bearer ${early.tokens.access_token}` },
  });
  assert.equal(me.statusCode, 200);
});

test('revoking the current key removes it at once and promotes a fresh key', async (t) => {
  const built = await build(t);
  const { app, services } = built;
  const admin = await userWithRoles(built, ['admin']);
  const victim = await registerAndLogin(app);
  const oldKid = kidOf(victim.tokens.access_token);

  const revoked = await app.inject({ method: 'POST', url: `/admin/keys/${oldKid}/revoke`, headers: admin.auth });
  assert.equal(revoked.statusCode, 200, revoked.body);
  assert.equal(revoked.json().state, 'revoked');
  const replacement = revoked.json().replacement as string;
  assert.ok(replacement && replacement !== oldKid);

  const kids = await jwksKids(app);
  assert.ok(!kids.includes(oldKid), 'gone from the JWKS');
  assert.ok(kids.includes(replacement));
  const me = await app.inject({
    method: 'GET',
    url: '/userinfo',
    headers: { authorization: `Bearer ${victim.tokens.access_token}` },
  });
  assert.equal(me.statusCode, 401, 'tokens of the revoked key are refused');
  const fresh = await registerAndLogin(app);
  assert.equal(kidOf(fresh.tokens.access_token), replacement);
  const events = await services.db.query(`SELECT type FROM security_events WHERE detail->>'kid' = $1`, [oldKid]);
  assert.ok(events.some((e) => (e as { type: string }).type === 'key_revoked'));

  // The admin's own token was signed by the revoked key too: it must log in again.
  const adminMe = await app.inject({ method: 'GET', url: '/admin/keys', headers: admin.auth });
  assert.equal(adminMe.statusCode, 401);
  const relogin = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email: admin.email, password: GOOD_PASSWORD },
  });
  const adminAuth = { authorization: `Bearer ${relogin.json().access_token}` };
  const unknown = await app.inject({ method: 'POST', url: `/admin/keys/${'A'.repeat(43)}/revoke`, headers: adminAuth });
  assert.equal(unknown.statusCode, 404);
  const malformed = await app.inject({ method: 'POST', url: `/admin/keys/not-a-kid/revoke`, headers: adminAuth });
  assert.equal(malformed.statusCode, 400);
});

test('revoking the refresh key ends refresh with its tokens', async (t) => {
  const built = await build(t);
  const { app, services } = built;
  const admin = await userWithRoles(built, ['admin']);
  const user = await registerAndLogin(app);
  const refreshKid = kidOf(user.tokens.refresh_token);
  assert.ok(!(await jwksKids(app)).includes(refreshKid), 'refresh keys are never published');
  const res = await app.inject({ method: 'POST', url: `/admin/keys/${refreshKid}/revoke`, headers: admin.auth });
  assert.equal(res.statusCode, 200);
  const r = await refresh(app, user.tokens.refresh_token);
  assert.equal(r.statusCode, 400);
  assert.equal(r.json().error, 'invalid_grant');
  const [row] = await services.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM signing_keys WHERE purpose = 'refresh' AND state = 'current'`,
  );
  assert.equal(row?.n, 1);
});

test('key administration needs the admin role', async (t) => {
  const built = await build(t);
  const { app } = built;
  const moderator = await userWithRoles(built, ['moderator']);
  const user = await userWithRoles(built, ['user']);
  for (const who of [moderator, user]) {
    for (const [method, url] of [
      ['GET', '/admin/keys'],
      ['POST', '/admin/keys/rotate'],
    ] as const) {
      const res = await app.inject({ method, url, headers: who.auth, ...(method === 'POST' ? { payload: {} } : {}) });
      assert.equal(res.statusCode, 403, `${method} ${url}`);
      assert.equal(res.json().error, 'forbidden');
    }
  }
  const anonymous = await app.inject({ method: 'GET', url: '/admin/keys' });
  assert.equal(anonymous.statusCode, 401);
});

test('automatic rotation every KEY_ROTATION_INTERVAL, with a changed SIGNING_ALG taking effect then', async (t) => {
  const built = await build(t, {
    JWKS_MAX_AGE: '0',
    KEY_PUBLISH_AHEAD: '0',
    KEY_SYNC_INTERVAL: '1',
    KEY_ROTATION_INTERVAL: '1',
    SIGNING_ALG: 'EdDSA',
  });
  const { app, services } = built;
  const before = await registerAndLogin(app);
  const firstKid = kidOf(before.tokens.access_token);
  await sleep(1100);
  await services.syncKeys(); // creates the next key, signing one sync interval later
  await sleep(1100);
  await services.syncKeys(); // promotes it
  const after = await registerAndLogin(app);
  const header = decodeProtectedHeader(after.tokens.access_token);
  assert.notEqual(header.kid, firstKid);
  const [row] = await services.db.query<{ alg: string }>('SELECT alg FROM signing_keys WHERE kid = $1', [header.kid]);
  assert.equal(row?.alg, header.alg);
});

test('a publish-ahead shorter than the JWKS max-age is refused', () => {
  assert.throws(
    () => loadConfig({ JWKS_MAX_AGE: '300', KEY_PUBLISH_AHEAD: '60' }),
    (e: unknown) => e instanceof ConfigError && /KEY_PUBLISH_AHEAD/.test(e.message),
  );
  assert.throws(
    () => loadConfig({ KEY_ROTATION_INTERVAL: '100' }),
    (e: unknown) => e instanceof ConfigError && /KEY_ROTATION_INTERVAL/.test(e.message),
  );
});
