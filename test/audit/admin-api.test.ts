// GET /admin/audit (filters, cursor paging, admins only, each read recorded) and
// GET /metrics (admins only on the main port; on METRICS_PORT without auth when set).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build, GOOD_PASSWORD, refresh, registerAndLogin, uniqueEmail, userWithRoles } from '../helpers/build.js';

interface EventView {
  id: number;
  time: string;
  type: string;
  outcome: string;
  actor: string | null;
  target: string | null;
  user_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  detail: Record<string, unknown>;
  hash: string | null;
  leaf_index: number | null;
}

test('GET /admin/audit', async (t) => {
  const built = await build(t, { KEY_SYNC_INTERVAL: '300' });
  const { app } = built;
  const admin = await userWithRoles(built, ['admin']);
  const moderator = await userWithRoles(built, ['moderator']);
  const plain = await registerAndLogin(app);
  const email = uniqueEmail('audited');
  await app.inject({
    method: 'POST',
    url: '/users',
    payload: { email, password: GOOD_PASSWORD },
    headers: { 'user-agent': 'audit-test/1.0' },
  });
  for (let i = 0; i < 3; i++)
    await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: 'wrong-password-here' },
      headers: { 'user-agent': 'audit-test/1.0' },
    });
  const get = (query: string, headers: Record<string, string> = admin.auth) =>
    app.inject({ method: 'GET', url: `/admin/audit${query}`, headers });

  await t.test('admins only; anonymous callers learn nothing about the route', async () => {
    assert.equal((await get('', {})).statusCode, 401);
    assert.equal((await get('?type=bogus!', {})).statusCode, 401, 'authentication before validation');
    assert.equal((await get('', moderator.auth)).statusCode, 403);
    assert.equal((await get('', { authorization: `Bearer ${plain.tokens.access_token}` })).statusCode, 403);
  });

  await t.test('filters by type, outcome, target, actor, user and time', async () => {
    await app.auditSealer.seal();
    const failures = (await get('?type=login_failure&outcome=failure')).json<{ events: EventView[] }>();
    assert.equal(failures.events.length, 3);
    for (const e of failures.events) {
      assert.equal(e.type, 'login_failure');
      assert.equal(e.outcome, 'failure');
      assert.equal(e.ip, '127.0.0.1');
      assert.equal(e.user_agent, 'audit-test/1.0');
      assert.match(String(e.request_id), /^[0-9a-f-]{36}$/);
      assert.match(String(e.hash), /^[0-9a-f]{64}$/, 'sealed: its leaf hash');
      assert.equal(typeof e.leaf_index, 'number');
      assert.equal(e.detail.reason, 'wrong_password');
    }
    const userId = failures.events[0]!.user_id!;
    assert.equal(
      (await get(`?target=${userId}&type=user_registered`)).json<{ events: EventView[] }>().events.length,
      1,
    );
    assert.equal((await get(`?user=${userId}`)).json<{ events: EventView[] }>().events.length, 4);
    // The admin's own login names them as the actor.
    const own = (await get(`?actor=${admin.id}&type=login_success`)).json<{ events: EventView[] }>();
    assert.equal(own.events.length, 1);
    assert.equal(own.events[0]!.target, admin.id);
    const several = (await get('?type=login_failure,user_registered')).json<{ events: EventView[] }>();
    assert.ok(
      several.events.some((e) => e.type === 'user_registered') &&
        several.events.some((e) => e.type === 'login_failure'),
    );
    const future = Math.floor(Date.now() / 1000) + 3600;
    assert.equal((await get(`?since=${future}`)).json<{ events: EventView[] }>().events.length, 0);
    assert.ok(
      (await get(`?until=${new Date(Date.now() + 60_000).toISOString()}&since=2020-01-01T00:00:00Z`)).json<{
        events: EventView[];
      }>().events.length > 5,
    );
    assert.equal((await get('?since=yesterday')).statusCode, 400);
    assert.equal((await get('?outcome=maybe')).statusCode, 400);
    assert.equal((await get('?limit=501')).statusCode, 400);
    assert.equal((await get('?color=red')).statusCode, 400);
  });

  await t.test('pages with a cursor, newest first, without overlap', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      // Annotated, not json<T>(): cursor is both read for and set from the page.
      const page: { events: EventView[]; next_cursor: string | null } = (
        await get(
          `?limit=4${cursor ? `&cursor=${cursor}` : ''}&type=key_created,key_activated,user_registered,login_success,login_failure`,
        )
      ).json();
      seen.push(...page.events.map((e) => e.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor && pages < 50);
    assert.ok(pages >= 3);
    assert.deepEqual(
      seen,
      [...seen].sort((a, b) => b - a),
      'newest first',
    );
    assert.equal(new Set(seen).size, seen.length, 'no event twice');
    const all = (
      await get('?limit=500&type=key_created,key_activated,user_registered,login_success,login_failure')
    ).json<{ events: EventView[] }>();
    assert.deepEqual(
      seen,
      all.events.map((e) => e.id),
    );
  });

  await t.test('every read is itself an audit event, with its filters', async () => {
    await get('?type=refresh_reuse&outcome=failure');
    const reads = (await get('?type=audit_read&limit=2')).json<{ events: EventView[] }>();
    const last = reads.events[0]!;
    assert.equal(last.actor, admin.id);
    assert.deepEqual(last.detail.filters, { type: 'refresh_reuse', outcome: 'failure' });
  });
});

test('GET /metrics', async (t) => {
  const built = await build(t, { KEY_SYNC_INTERVAL: '300', REFRESH_REUSE_GRACE: '0', LOGIN_RATE_LIMIT: '5' });
  const { app } = built;
  const admin = await userWithRoles(built, ['admin']);
  const moderator = await userWithRoles(built, ['moderator']);
  const { tokens } = await registerAndLogin(app);
  await refresh(app, tokens.refresh_token);
  await refresh(app, tokens.refresh_token); // reuse
  for (let i = 0; i < 3; i++)
    await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: uniqueEmail('nobody'), password: 'wrong-password-here' },
    });

  await t.test('admins only on the main port', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/metrics', headers: moderator.auth })).statusCode, 403);
  });

  await t.test(
    'Prometheus text with the request, login, token, reuse, limit, hashing, key and pool metrics',
    async () => {
      const answer = await app.inject({ method: 'GET', url: '/metrics', headers: admin.auth });
      assert.equal(answer.statusCode, 200);
      assert.equal(answer.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
      const text = answer.body;
      const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
      assert.ok(
        value(
          /^tessera_http_request_duration_seconds_count\{method="POST",route="\/auth\/login",status="200"\} (\d+)$/m,
        ) >= 3,
      );
      assert.match(
        text,
        /^tessera_http_request_duration_seconds_bucket\{le="0\.1",method="POST",route="\/oauth\/token",status="200"\} \d+$/m,
      );
      assert.ok(value(/^tessera_logins_total\{outcome="success"\} (\d+)$/m) >= 3);
      assert.ok(value(/^tessera_logins_total\{outcome="failure"\} (\d+)$/m) >= 2);
      assert.ok(
        value(/^tessera_logins_total\{outcome="rate_limited"\} (\d+)$/m) >= 1,
        'the login limit of 5 a minute was hit',
      );
      assert.ok(value(/^tessera_rate_limited_total\{route="\/auth\/login"\} (\d+)$/m) >= 1);
      assert.ok(value(/^tessera_tokens_issued_total\{grant="login"\} (\d+)$/m) >= 3);
      assert.equal(value(/^tessera_tokens_issued_total\{grant="refresh_token"\} (\d+)$/m), 1);
      assert.equal(value(/^tessera_refresh_reuse_total (\d+)$/m), 1);
      assert.equal(value(/^tessera_security_events_total\{type="refresh_reuse",outcome="failure"\} (\d+)$/m), 1);
      assert.match(text, /^tessera_argon2_queue_depth\{state="queued"\} 0$/m);
      assert.match(
        text,
        /^tessera_signing_key_age_seconds\{purpose="access",state="current",kid="[A-Za-z0-9_-]{43}"\} [\d.e+-]+$/m,
      );
      assert.match(text, /^tessera_db_pool_connections\{state="total"\} \d+$/m);
      assert.match(text, /^process_cpu_user_seconds_total /m);
    },
  );
});

test('METRICS_PORT serves GET /metrics there, without auth, and not on the main port', async (t) => {
  const built = await build(t, { KEY_SYNC_INTERVAL: '300', METRICS_PORT: '0', METRICS_HOST: '127.0.0.1' });
  const admin = await userWithRoles(built, ['admin']);
  assert.equal((await built.app.inject({ method: 'GET', url: '/metrics', headers: admin.auth })).statusCode, 404);
  const address = built.app.metricsAddress();
  assert.ok(address, 'listening');
  assert.equal(address.address, '127.0.0.1');
  const answer = await fetch(`http://127.0.0.1:${address.port}/metrics`);
  assert.equal(answer.status, 200);
  assert.equal(answer.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  assert.match(await answer.text(), /^tessera_tokens_issued_total\{grant="login"\} 1$/m);
  assert.equal(answer.headers.get('cache-control'), 'no-store');
  const other = await fetch(`http://127.0.0.1:${address.port}/admin/audit`);
  assert.equal(other.status, 404);
  assert.equal(other.headers.get('content-type'), 'application/json; charset=utf-8');
  // The metrics listener answers with the same security headers as the app.
  for (const res of [answer, other]) {
    assert.equal(
      res.headers.get('content-security-policy'),
      "default-src 'none';base-uri 'none';frame-ancestors 'none'",
    );
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
  }
  assert.equal((await fetch(`http://127.0.0.1:${address.port}/metrics`, { method: 'POST' })).status, 404);
});
