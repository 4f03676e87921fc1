// Refusals that matter become audit events: a 403 at an admin route, a bearer token signed
// by another key, of another kind (an ID token) or under an unknown kid. A flood from one IP
// records AUDIT_REFUSALS_PER_IP events and counts the rest (metric, one summary event);
// the refusals alert counts those too. Browser-mode logout answers Clear-Site-Data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import type { FastifyInstance } from 'fastify';
import { build, GOOD_PASSWORD, refresh, uniqueEmail, userWithRoles, type Built } from '../helpers/build.js';
import { bearer, expiredCopy, kidOf, otherAudienceCopy, sidOf } from '../access/helpers.js';
import { suiteApp } from '../routes/suite-app.js';
import { listAlerts } from '../../src/db/repositories/alerts.js';
import { REFRESH_COOKIE } from '../../src/lib/refresh-cookie.js';

const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const LIMIT = 10; // AUDIT_REFUSALS_PER_IP's default
const built = suiteApp();

interface EventRow {
  id: string;
  type: string;
  outcome: string;
  actor: string | null;
  user_id: string | null;
  session_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  detail: Record<string, unknown>;
}

const REFUSAL_TYPES = ['access_denied', 'token_rejected', 'refusals_dropped'];

async function refusalEvents(b: Built, where: { ip?: string; after?: string } = {}): Promise<EventRow[]> {
  return b.services.db.query<EventRow>(
    `SELECT id::text, type, outcome, actor, user_id::text, session_id::text, ip, user_agent, request_id, detail
       FROM security_events
      WHERE type = ANY($1::text[]) AND ($2::text IS NULL OR ip = $2) AND id > $3::bigint ORDER BY id`,
    [REFUSAL_TYPES, where.ip ?? null, where.after ?? '0'],
  );
}

const lastId = async (b: Built) =>
  (await b.services.db.query<{ id: string }>('SELECT coalesce(max(id), 0)::text AS id FROM security_events'))[0]!.id;

/** What one request leaves in the log: its refusal events. */
async function eventsOf(b: Built, send: () => Promise<{ statusCode: number }>, status: number) {
  const before = await lastId(b);
  assert.equal((await send()).statusCode, status);
  return refusalEvents(b, { after: before });
}

const me = (app: FastifyInstance, token: string, remoteAddress = '127.0.0.1') =>
  app.inject({
    method: 'GET',
    url: '/users/me',
    headers: { ...bearer(token), 'user-agent': 'refusal-test/1' },
    remoteAddress,
  });

/** A token with a real token's claims, signed by a key that is not ours. */
async function signedElsewhere(realToken: string, kid: string): Promise<string> {
  const attacker = await generateKeyPair('ES256');
  return new SignJWT({ ...decodeJwt(realToken), roles: ['admin'] })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
    .sign(attacker.privateKey);
}

const refusalsMetric = async (app: FastifyInstance, kind: string, recorded: string) =>
  (await app.metrics.refusals.get()).values.find((v) => v.labels.kind === kind && v.labels.recorded === recorded)
    ?.value ?? 0;

test('403s and forged tokens become audit events, rate-limited per IP', async (t) => {
  const b = built();
  const user = await userWithRoles(b, ['user']);
  const token = user.tokens.access_token;

  await t.test('a 403 on an admin route: access_denied, with who, what and where', async () => {
    const [event, ...more] = await eventsOf(
      b,
      () =>
        b.app.inject({ method: 'GET', url: '/admin/users', headers: { ...user.auth, 'user-agent': 'refusal-test/1' } }),
      403,
    );
    assert.equal(more.length, 0);
    assert.equal(event!.type, 'access_denied');
    assert.equal(event!.outcome, 'failure');
    assert.equal(event!.user_id, user.id);
    assert.equal(event!.actor, user.id);
    assert.equal(event!.session_id, sidOf(token));
    assert.equal(event!.ip, '127.0.0.1');
    assert.equal(event!.user_agent, 'refusal-test/1');
    assert.ok(event!.request_id, 'the request id');
    assert.deepEqual(event!.detail, {
      permission: 'users:read',
      roles: ['user'],
      route: '/admin/users',
      method: 'GET',
    });
  });

  await t.test('a token signed by another key under our kid: token_rejected, signature', async () => {
    const forged = await signedElsewhere(token, kidOf(token));
    const [event, ...more] = await eventsOf(b, () => me(b.app, forged), 401);
    assert.equal(more.length, 0);
    assert.equal(event!.type, 'token_rejected');
    assert.equal(event!.outcome, 'failure');
    assert.equal(event!.user_id, null, 'an unverified token names no one');
    assert.equal(event!.actor, null);
    assert.equal(event!.ip, '127.0.0.1');
    assert.equal(event!.user_agent, 'refusal-test/1');
    assert.deepEqual(event!.detail, {
      reason: 'signature',
      kid: kidOf(token),
      alg: 'ES256',
      typ: 'at+jwt',
      route: '/users/me',
      method: 'GET',
    });
    const stored = JSON.stringify(event);
    for (const part of forged.split('.')) assert.equal(stored.includes(part), false, 'no part of the token is kept');
  });

  await t.test('an ID token used as an access token: token_rejected, type', async () => {
    const claims = decodeJwt(token);
    const idToken = await b.services.tokens.issueIdToken({
      sub: user.id,
      aud: 'tessera',
      authTime: Number(claims.auth_time),
      sid: sidOf(token),
      amr: ['pwd'],
      acr: 'urn:tessera:pwd',
      accessToken: token,
    });
    const [event, ...more] = await eventsOf(b, () => me(b.app, idToken), 401);
    assert.equal(more.length, 0);
    assert.equal(event!.type, 'token_rejected');
    assert.equal(event!.detail.reason, 'type');
    assert.equal(event!.detail.typ, 'JWT');
    assert.equal(event!.detail.kid, kidOf(token));
  });

  await t.test('a token under an unknown kid: token_rejected, unknown_key', async () => {
    const unknown = await signedElsewhere(token, 'no-such-key');
    const [event, ...more] = await eventsOf(b, () => me(b.app, unknown), 401);
    assert.equal(more.length, 0);
    assert.equal(event!.detail.reason, 'unknown_key');
    assert.equal(event!.detail.kid, 'no-such-key');
    // A kid the log could not store (NUL, a lone surrogate) is still recorded, made storable.
    const [hostile] = await eventsOf(b, async () => me(b.app, await signedElsewhere(token, 'a\u0000b\ud800c')), 401);
    assert.equal(hostile!.detail.reason, 'unknown_key');
    assert.equal(hostile!.detail.kid, 'a\uFFFDb\uFFFDc');
  });

  await t.test('a refresh token signed by another key at /oauth/token: token_rejected, signature', async () => {
    const refreshToken = user.tokens.refresh_token;
    const attacker = await generateKeyPair('ES256');
    const forged = await new SignJWT(decodeJwt(refreshToken))
      .setProtectedHeader({ alg: 'ES256', typ: 'refresh+jwt', kid: kidOf(refreshToken) })
      .sign(attacker.privateKey);
    const [event, ...more] = await eventsOf(b, () => refresh(b.app, forged), 400);
    assert.equal(more.length, 0);
    assert.equal(event!.type, 'token_rejected');
    assert.deepEqual(event!.detail, {
      reason: 'signature',
      kid: kidOf(refreshToken),
      alg: 'ES256',
      typ: 'refresh+jwt',
      route: '/oauth/token',
      grant: 'refresh_token',
    });
  });

  await t.test('our token for another audience names its jti; an expired one is normal traffic', async () => {
    const elsewhere = await otherAudienceCopy(b.services, token, 'https://api.elsewhere.example');
    const [event] = await eventsOf(b, () => me(b.app, elsewhere), 401);
    assert.equal(event!.detail.reason, 'audience');
    assert.equal(event!.detail.jti, decodeJwt(elsewhere).jti);

    const expired = await expiredCopy(b.services, token);
    assert.deepEqual(await eventsOf(b, () => me(b.app, expired), 401), [], 'an expired token is not recorded');
    assert.deepEqual(
      await eventsOf(b, () => b.app.inject({ method: 'GET', url: '/users/me' }), 401),
      [],
      'no token at all is not recorded',
    );
    assert.equal((await me(b.app, token)).statusCode, 200, 'the real token still works');
  });

  await t.test('30 parallel forgeries from one IP: the limit recorded, the rest counted and summed', async () => {
    const forged = await signedElsewhere(token, kidOf(token));
    const flood = '203.0.113.7';
    const droppedBefore = await refusalsMetric(b.app, 'token_rejected', 'false');
    const answers = await Promise.all(Array.from({ length: 30 }, () => me(b.app, forged, flood)));
    for (const answer of answers) assert.equal(answer.statusCode, 401);

    const recorded = await refusalEvents(b, { ip: flood });
    assert.equal(recorded.length, LIMIT, `exactly AUDIT_REFUSALS_PER_IP events, got ${recorded.length}`);
    assert.ok(recorded.every((e) => e.type === 'token_rejected' && e.detail.reason === 'signature'));
    assert.equal((await refusalsMetric(b.app, 'token_rejected', 'false')) - droppedBefore, 30 - LIMIT);

    // Another IP is not drowned by the first one's flood.
    const other = '203.0.113.8';
    assert.equal((await me(b.app, forged, other)).statusCode, 401);
    assert.equal((await refusalEvents(b, { ip: other })).length, 1);

    // The summary: one event for the flood's IP with what was dropped.
    await b.app.refusals.flush();
    const summary = (await refusalEvents(b, { ip: flood })).filter((e) => e.type === 'refusals_dropped');
    assert.equal(summary.length, 1);
    assert.deepEqual(summary[0]!.detail, {
      dropped: 30 - LIMIT,
      kinds: [{ kind: 'token_rejected', dropped: 30 - LIMIT }],
      limit: LIMIT,
      window_seconds: 60,
    });
    assert.equal((await refusalEvents(b, { ip: other })).length, 1, 'nothing dropped there, no summary');
    // Still within the minute: the IP stays at its limit.
    assert.equal((await me(b.app, forged, flood)).statusCode, 401);
    assert.equal((await refusalEvents(b, { ip: flood })).filter((e) => e.type === 'token_rejected').length, LIMIT);
  });
});

test('refusals from one IP raise the refusals alert', async () => {
  const b = built();
  const user = await userWithRoles(b, ['user']);
  const forged = await signedElsewhere(user.tokens.access_token, kidOf(user.tokens.access_token));
  const from = '198.51.100.9';
  const quiet = '198.51.100.10';
  // 15 forbidden and 15 forged, in parallel: 10 recorded, 20 summed in the summary.
  const answers = await Promise.all([
    ...Array.from({ length: 15 }, () =>
      b.app.inject({ method: 'GET', url: '/admin/users', headers: user.auth, remoteAddress: from }),
    ),
    ...Array.from({ length: 15 }, () => me(b.app, forged, from)),
    me(b.app, forged, quiet),
  ]);
  assert.deepEqual([...new Set(answers.map((a) => a.statusCode))].sort(), [401, 403]);
  assert.equal((await refusalEvents(b, { ip: from })).length, LIMIT, 'fewer recorded than the threshold (20)');
  await b.app.refusals.flush();
  await b.services.alerts.check();

  const alerts = (await listAlerts(b.services.db)).filter((a) => a.rule === 'refusals_ip');
  const raised = alerts.filter((a) => a.subject === from);
  assert.equal(raised.length, 1, 'one alert for the IP, the dropped refusals counted');
  assert.equal(raised[0]!.severity, 'warning');
  assert.equal(raised[0]!.count, 30, 'every refusal counted: recorded and dropped');
  assert.deepEqual(raised[0]!.detail, { ip: from, threshold: 20, window_seconds: 900 });
  assert.match(raised[0]!.summary, /^30 refused requests \(403s, forged tokens\) from 198\.51\.100\.9 within 900 s$/);
  assert.equal(
    alerts.some((a) => a.subject === quiet),
    false,
    'one refusal raises nothing',
  );
});

test('browser-mode logout clears site data', async () => {
  const b = built();
  const email = uniqueEmail('browser');
  assert.equal(
    (await b.app.inject({ method: 'POST', url: '/users', payload: { email, password: GOOD_PASSWORD } })).statusCode,
    201,
  );
  const login = await b.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password: GOOD_PASSWORD, refresh_token_mode: 'cookie' },
  });
  assert.equal(login.statusCode, 200, login.body);
  const cookie = login.cookies.find((c) => c.name === REFRESH_COOKIE)!;
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const sameSite = { ...form, origin: 'http://localhost:3000', 'x-tessera-csrf': '1' };

  // A cross-site attempt is refused and clears nothing.
  const crossSite = await b.app.inject({
    method: 'POST',
    url: '/oauth/revoke',
    headers: { ...form, origin: 'https://evil.example.com', 'x-tessera-csrf': '1' },
    cookies: { [REFRESH_COOKIE]: cookie.value },
    payload: '',
  });
  assert.equal(crossSite.statusCode, 403);
  assert.equal(crossSite.headers['clear-site-data'], undefined);

  const logout = await b.app.inject({
    method: 'POST',
    url: '/oauth/revoke',
    headers: sameSite,
    cookies: { [REFRESH_COOKIE]: cookie.value },
    payload: '',
  });
  assert.equal(logout.statusCode, 200, logout.body);
  assert.equal(logout.headers['clear-site-data'], '"cookies"');
  assert.equal(logout.cookies.find((c) => c.name === REFRESH_COOKIE)?.value, '', 'the cookie is cleared');
  const sid = String(decodeJwt(cookie.value).sid);
  const [row] = await b.services.db.query<{ ended_at: Date | null }>('SELECT ended_at FROM sessions WHERE id = $1', [
    sid,
  ]);
  assert.ok(row!.ended_at, 'the session ended');

  // A client revoking a token it holds (not browser mode) gets no such header.
  const other = await userWithRoles(b, ['user']);
  const api = await b.app.inject({
    method: 'POST',
    url: '/oauth/revoke',
    headers: form,
    payload: new URLSearchParams({ token: other.tokens.refresh_token }).toString(),
  });
  assert.equal(api.statusCode, 200, api.body);
  assert.equal(api.headers['clear-site-data'], undefined);
});

test(
  'the per-IP limit holds across two instances sharing Redis',
  { skip: !onPostgres && 'two instances in one process need PostgreSQL (TEST_DATABASE_URL)' },
  async (t) => {
    const prefix = `tessera-test-${randomBytes(4).toString('hex')}:`;
    const { Redis } = await import('ioredis');
    t.after(async () => {
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    });
    const env = { REDIS_URL, REDIS_PREFIX: prefix, AUDIT_REFUSALS_PER_IP: '4' };
    const a = await build(t, env);
    const c = await build(t, env);
    const user = await userWithRoles(a, ['user']);
    const forged = await signedElsewhere(user.tokens.access_token, kidOf(user.tokens.access_token));
    const from = '192.0.2.44';
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => me(i % 2 ? c.app : a.app, forged, from)));
    for (const answer of answers) assert.equal(answer.statusCode, 401);
    assert.equal((await refusalEvents(a, { ip: from })).length, 4, 'one limit for both instances');
    await Promise.all([a.app.refusals.flush(), c.app.refusals.flush()]);
    const summaries = (await refusalEvents(a, { ip: from })).filter((e) => e.type === 'refusals_dropped');
    assert.equal(
      summaries.reduce((n, e) => n + Number(e.detail.dropped), 0),
      16,
      'each instance sums what it dropped',
    );
  },
);
