// Every flow, failures included, with the logs captured at trace level: no password,
// token, client secret, captcha answer, cookie, Authorization value or configured secret
// appears in any line; every line is JSON; request lines carry request id, route, status
// and duration; and every flow left its event in the audit log, with the request's id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildServer } from '../../src/server.js';
import { loggerOptions } from '../../src/logger.js';
import { registerUser } from '../../src/users/register-user.js';
import { rewrapSecrets } from '../../src/keys/rewrap.js';
import { verifyAuditLog } from '../../src/audit/verify-log.js';
import { TEST_MASTER_KEY, servicesOf, testConfig, uniqueEmail } from '../helpers/build.js';
import { startSiteverify } from '../helpers/siteverify-stand-in.js';
import { captureLogs, startReceiver } from './helpers.js';

const PASSWORD = 'Zebra-Quartz-Lantern-7781';
const ADMIN_PASSWORD = 'Admiral-Pebble-Orchid-2290';
const WRONG_PASSWORD = 'Wrong-Horse-Staple-3321';
const NEW_PASSWORD = 'Cobalt-Meadow-Ferry-5512';
const WEAK_PASSWORD = 'password1234';
const GOOD_ANSWER = 'captcha-answer-good-4d2f9a';
const BAD_ANSWER = 'captcha-answer-bad-8e1c7b';
const CAPTCHA_SECRET = 'captcha-secret-77aa-0b1c';
const WEBHOOK_PATH = '/hooks/T0KEN-in-the-path-51f0';
const COOKIE_VALUE = 'cookie-secret-value-5b5b3c';

test('no secret reaches the logs, through every flow', async (t) => {
  const siteverify = await startSiteverify({ goodAnswer: GOOD_ANSWER });
  const receiver = await startReceiver();
  t.after(async () => {
    await siteverify.close();
    await receiver.close();
  });
  const logs = captureLogs();
  const config = await testConfig({
    LOG_LEVEL: 'trace',
    // A rotated key signs after KEY_PUBLISH_AHEAD plus one sync interval: 1 s here.
    KEY_SYNC_INTERVAL: '1',
    JWKS_MAX_AGE: '0',
    KEY_PUBLISH_AHEAD: '0',
    REFRESH_REUSE_GRACE: '0',
    CAPTCHA_PROVIDER: 'hcaptcha',
    CAPTCHA_SECRET,
    CAPTCHA_SITEKEY: 'site-key-public',
    CAPTCHA_VERIFY_URL: siteverify.url,
    CAPTCHA_AFTER_FAILURES: '2',
    ALERT_WEBHOOK_URL: receiver.url(WEBHOOK_PATH),
    ALERT_FAILED_LOGINS_PER_ACCOUNT: '2',
    ALERT_CHECK_INTERVAL_MS: '100',
  });
  const app = await buildServer(config, { logger: loggerOptions('trace', { stream: logs.stream }) });
  await app.ready();
  const services = servicesOf(app, config);
  t.after(() => services.close());

  const secrets = new Set<string>([
    PASSWORD,
    ADMIN_PASSWORD,
    WRONG_PASSWORD,
    NEW_PASSWORD,
    WEAK_PASSWORD,
    GOOD_ANSWER,
    BAD_ANSWER,
    CAPTCHA_SECRET,
    WEBHOOK_PATH,
    COOKIE_VALUE,
    TEST_MASTER_KEY,
  ]);
  const keep = (body: Record<string, unknown>) => {
    for (const key of ['access_token', 'refresh_token', 'client_secret'])
      if (typeof body[key] === 'string') secrets.add(body[key]);
    return body;
  };
  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const formHeaders = { 'content-type': 'application/x-www-form-urlencoded' };
  const inject = app.inject.bind(app);

  // Registration: new, taken, weak; malformed bodies that carry a password.
  const email = uniqueEmail('logs');
  assert.equal(
    (await inject({ method: 'POST', url: '/users', payload: { email, password: PASSWORD } })).statusCode,
    201,
  );
  assert.equal(
    (await inject({ method: 'POST', url: '/users', payload: { email, password: PASSWORD } })).statusCode,
    201,
  );
  assert.equal(
    (await inject({ method: 'POST', url: '/users', payload: { email: uniqueEmail('weak'), password: WEAK_PASSWORD } }))
      .statusCode,
    400,
  );
  for (const raw of [
    `{"email":"${email}","password":"${PASSWORD}"`,
    `{"email":"${email}","password":"${PASSWORD}"}x`,
    `{"email":"${email}","password":"${PASSWORD}",}`,
  ]) {
    const { statusCode } = await inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: raw,
    });
    assert.equal(statusCode, 400, raw);
  }
  assert.equal(
    (await inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD, extra: PASSWORD } }))
      .statusCode,
    400,
  );
  assert.equal(
    (
      await inject({
        method: 'POST',
        url: '/auth/login',
        headers: { 'content-type': 'text/plain' },
        payload: `password=${PASSWORD}`,
      })
    ).statusCode,
    415,
  );

  // Login: success, failures up to the captcha, captcha missing, wrong, right.
  const login = keep(
    (await inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } })).json(),
  );
  assert.ok(login.access_token);
  for (let i = 0; i < 2; i++)
    assert.equal(
      (await inject({ method: 'POST', url: '/auth/login', payload: { email, password: WRONG_PASSWORD } })).statusCode,
      401,
    );
  const demanded = await inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } });
  assert.equal(demanded.json().error, 'captcha_required');
  assert.equal(
    (
      await inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password: PASSWORD, captcha_token: BAD_ANSWER },
      })
    ).json().error,
    'captcha_required',
  );
  const passed = await inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password: PASSWORD, captcha_token: GOOD_ANSWER },
  });
  assert.equal(passed.statusCode, 200, passed.body);
  const session2 = keep(passed.json());

  // Browser mode: the refresh token in a cookie, refreshed through it.
  const cookieLogin = await inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password: PASSWORD, refresh_token_mode: 'cookie', captcha_token: GOOD_ANSWER },
  });
  keep(cookieLogin.json());
  const setCookie = cookieLogin.headers['set-cookie'];
  const cookieHeader = (Array.isArray(setCookie) ? setCookie : [setCookie ?? ''])
    .map((c) => c.split(';')[0])
    .join('; ');
  for (const part of cookieHeader.split('; ')) if (part.includes('=')) secrets.add(part.slice(part.indexOf('=') + 1));
  const cookieRefresh = await inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { ...formHeaders, cookie: cookieHeader, 'x-tessera-csrf': '1' },
    payload: form({ grant_type: 'refresh_token' }),
  });
  if (cookieRefresh.statusCode === 200) keep(cookieRefresh.json());
  for (const c of [cookieRefresh.headers['set-cookie']].flat())
    if (typeof c === 'string') secrets.add(c.split(';')[0]!.split('=').slice(1).join('='));

  // Refresh, reuse, garbage.
  const refreshed = keep(
    (
      await inject({
        method: 'POST',
        url: '/oauth/token',
        headers: formHeaders,
        payload: form({ grant_type: 'refresh_token', refresh_token: String(login.refresh_token) }),
      })
    ).json(),
  );
  assert.ok(refreshed.refresh_token);
  assert.equal(
    (
      await inject({
        method: 'POST',
        url: '/oauth/token',
        headers: formHeaders,
        payload: form({ grant_type: 'refresh_token', refresh_token: String(login.refresh_token) }),
      })
    ).statusCode,
    400,
  );
  assert.equal(
    (
      await inject({
        method: 'POST',
        url: '/oauth/token',
        headers: formHeaders,
        payload: form({ grant_type: 'refresh_token', refresh_token: `${String(session2.refresh_token)}x` }),
      })
    ).statusCode,
    400,
  );
  assert.equal(
    (
      await inject({
        method: 'POST',
        url: '/oauth/token',
        headers: formHeaders,
        payload: form({ grant_type: 'password', username: email, password: PASSWORD }),
      })
    ).statusCode,
    400,
  );

  // Own profile and sessions, with a cookie and bad bearers along.
  const bearer = (token: unknown) => ({ authorization: `Bearer ${String(token)}` });
  assert.equal(
    (
      await inject({
        method: 'GET',
        url: '/users/me',
        headers: { ...bearer(session2.access_token), cookie: `other=${COOKIE_VALUE}` },
      })
    ).statusCode,
    200,
  );
  assert.equal(
    (await inject({ method: 'GET', url: '/users/me', headers: { authorization: `Bearer ${COOKIE_VALUE}` } }))
      .statusCode,
    401,
  );
  assert.equal(
    (
      await inject({
        method: 'GET',
        url: '/userinfo',
        headers: { authorization: `Basic ${Buffer.from(`${email}:${PASSWORD}`).toString('base64')}` },
      })
    ).statusCode,
    401,
  );
  secrets.add(Buffer.from(`${email}:${PASSWORD}`).toString('base64'));
  assert.equal(
    (
      await inject({
        method: 'POST',
        url: '/users/me/password',
        headers: bearer(session2.access_token),
        payload: { current_password: WRONG_PASSWORD, new_password: NEW_PASSWORD },
      })
    ).statusCode,
    401,
  );
  assert.equal(
    (
      await inject({
        method: 'POST',
        url: '/users/me/password',
        headers: bearer(session2.access_token),
        payload: { current_password: PASSWORD, new_password: NEW_PASSWORD },
      })
    ).statusCode,
    204,
  );
  const sessions = (
    await inject({ method: 'GET', url: '/users/me/sessions', headers: bearer(session2.access_token) })
  ).json<{ sessions: { id: string; current: boolean }[] }>();
  const other = sessions.sessions.find((s) => !s.current);
  if (other)
    assert.equal(
      (
        await inject({
          method: 'DELETE',
          url: `/users/me/sessions/${other.id}`,
          headers: bearer(session2.access_token),
        })
      ).statusCode,
      204,
    );

  // Revocation of a refresh token ends its session.
  const third = keep(
    (
      await inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password: NEW_PASSWORD, captcha_token: GOOD_ANSWER },
      })
    ).json(),
  );
  assert.equal(
    (
      await inject({
        method: 'POST',
        url: '/oauth/revoke',
        headers: formHeaders,
        payload: form({ token: String(third.refresh_token), client_id: 'tessera' }),
      })
    ).statusCode,
    200,
  );

  // Admin flows: clients, client credentials, introspection, users, keys, audit, metrics.
  const admin = await registerUser(services, {
    email: uniqueEmail('admin'),
    password: ADMIN_PASSWORD,
    roles: ['admin'],
  });
  assert.ok(admin.created);
  const adminLogin = keep(
    (
      await inject({ method: 'POST', url: '/auth/login', payload: { email: admin.email, password: ADMIN_PASSWORD } })
    ).json(),
  );
  const asAdmin = bearer(adminLogin.access_token);
  const client = keep(
    (
      await inject({
        method: 'POST',
        url: '/admin/clients',
        headers: asAdmin,
        payload: { name: 'reports', scope: 'reports:read', introspect: true },
      })
    ).json(),
  );
  const basic = `Basic ${Buffer.from(`${String(client.client_id)}:${String(client.client_secret)}`).toString('base64')}`;
  secrets.add(basic.slice(6));
  const cc = keep(
    (
      await inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { ...formHeaders, authorization: basic },
        payload: form({ grant_type: 'client_credentials' }),
      })
    ).json(),
  );
  assert.ok(cc.access_token);
  keep(
    (
      await inject({
        method: 'POST',
        url: '/oauth/token',
        headers: formHeaders,
        payload: form({
          grant_type: 'client_credentials',
          client_id: String(client.client_id),
          client_secret: String(client.client_secret),
        }),
      })
    ).json(),
  );
  assert.equal(
    (
      await inject({
        method: 'POST',
        url: '/oauth/token',
        headers: formHeaders,
        payload: form({
          grant_type: 'client_credentials',
          client_id: String(client.client_id),
          client_secret: `${String(client.client_secret)}x`,
        }),
      })
    ).statusCode,
    401,
  );
  secrets.add(`${String(client.client_secret)}x`);
  assert.equal(
    (
      await inject({
        method: 'POST',
        url: '/oauth/introspect',
        headers: { ...formHeaders, authorization: basic },
        payload: form({ token: String(session2.access_token) }),
      })
    ).statusCode,
    200,
  );
  assert.equal(
    (
      await inject({
        method: 'GET',
        url: `/oauth/revoked?since=${Math.floor(Date.now() / 1000) - 60}`,
        headers: { authorization: basic },
      })
    ).statusCode,
    200,
  );

  const victim = await registerUser(services, { email: uniqueEmail('victim'), password: PASSWORD, roles: ['user'] });
  assert.ok(victim.created);
  const victimId = victim.user.id;
  assert.equal(
    (
      await inject({
        method: 'PATCH',
        url: `/admin/users/${victimId}`,
        headers: asAdmin,
        payload: { roles: ['admin', 'user'] },
      })
    ).statusCode,
    200,
  );
  assert.equal(
    (await inject({ method: 'PATCH', url: `/admin/users/${victimId}`, headers: asAdmin, payload: { disabled: true } }))
      .statusCode,
    200,
  );
  assert.equal(
    (await inject({ method: 'PATCH', url: `/admin/users/${victimId}`, headers: asAdmin, payload: { disabled: false } }))
      .statusCode,
    200,
  );
  assert.equal(
    (await inject({ method: 'DELETE', url: `/admin/users/${victimId}/sessions`, headers: asAdmin })).statusCode,
    200,
  );

  const rotated = (
    await inject({ method: 'POST', url: '/admin/keys/rotate', headers: asAdmin, payload: { purpose: 'access' } })
  ).json<{ kid: string }>();
  await new Promise((r) => setTimeout(r, 1100));
  await services.syncKeys();
  const adminLogin2 = keep(
    (
      await inject({ method: 'POST', url: '/auth/login', payload: { email: admin.email, password: ADMIN_PASSWORD } })
    ).json(),
  );
  assert.equal(
    (
      await inject({
        method: 'POST',
        url: `/admin/keys/${rotated.kid}/revoke`,
        headers: bearer(adminLogin2.access_token),
      })
    ).statusCode,
    200,
  );
  const adminLogin3 = keep(
    (
      await inject({ method: 'POST', url: '/auth/login', payload: { email: admin.email, password: ADMIN_PASSWORD } })
    ).json(),
  );
  const asAdmin3 = bearer(adminLogin3.access_token);
  await rewrapSecrets(services.db, services.box);
  assert.equal(
    (await inject({ method: 'GET', url: '/admin/audit?type=login_failure,captcha_failed&limit=5', headers: asAdmin3 }))
      .statusCode,
    200,
  );
  assert.equal((await inject({ method: 'GET', url: '/metrics', headers: asAdmin3 })).statusCode, 200);

  // Secrets in a URL's query string, on a route and off one.
  assert.equal(
    (
      await inject({
        method: 'GET',
        url: `/nowhere?access_token=${String(adminLogin3.access_token)}&password=${PASSWORD}`,
      })
    ).statusCode,
    404,
  );
  assert.equal(
    (await inject({ method: 'GET', url: `/users/me?access_token=${String(adminLogin3.access_token)}` })).statusCode,
    401,
  );

  // Let the alert rules run and their webhook deliveries finish: they log too.
  await services.alerts.check();
  await services.alerts.webhook.idle();
  assert.ok(receiver.received.length >= 3, 'alerts were raised and delivered');

  await t.test('no secret appears in any log line', () => {
    assert.ok(logs.lines.length > 100, `captured ${logs.lines.length} lines`);
    t.diagnostic(`${logs.lines.length} log lines, ${secrets.size} secrets checked`);
    for (const secret of secrets) {
      assert.ok(secret.length >= 8, `a secret worth checking: ${secret}`);
      const line = logs.lines.find(
        (l) =>
          l.includes(secret) ||
          l.includes(encodeURIComponent(secret)) ||
          l.includes(JSON.stringify(secret).slice(1, -1)),
      );
      assert.equal(line, undefined, `a secret leaked into the log: ${line}`);
    }
  });

  await t.test('every line is JSON; request lines carry request id, route, status and duration', () => {
    const records = logs.records();
    const completed = records.filter((r) => r.msg === 'request completed');
    assert.ok(completed.length > 40);
    for (const r of completed) {
      assert.match(String(r.reqId), /^[0-9a-f-]{36}$/);
      const res = r.res as { statusCode: number; route?: string; method: string };
      assert.equal(typeof res.statusCode, 'number');
      assert.equal(typeof r.responseTime, 'number');
      assert.match(String(r.time), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      if (res.statusCode !== 404) assert.equal(typeof res.route, 'string', JSON.stringify(r));
    }
    assert.ok(completed.some((r) => (r.res as { route?: string }).route === '/auth/login'));
    assert.ok(
      records.some((r) => r.level === 40 && r.event === 'security_alert'),
      'alerts are logged at warn',
    );
  });

  await t.test('every flow left its audit event, carrying the request id', async () => {
    const rows = await services.db.query<{ type: string; outcome: string; request_id: string | null }>(
      'SELECT type, outcome, request_id FROM security_events',
    );
    const types = new Set(rows.map((r) => r.type));
    for (const type of [
      'user_registered',
      'login_success',
      'login_failure',
      'captcha_demanded',
      'captcha_passed',
      'captcha_failed',
      'token_refreshed',
      'refresh_reuse',
      'session_ended',
      'sessions_ended',
      'password_changed',
      'password_change_failure',
      'roles_changed',
      'user_disabled',
      'user_enabled',
      'client_created',
      'key_created',
      'key_activated',
      'key_retired',
      'key_revoked',
      'master_key_rewrap',
      'audit_read',
    ]) {
      assert.ok(types.has(type), `an event of type ${type}`);
    }
    assert.ok(
      rows.some((r) => r.type === 'user_registered' && r.outcome === 'failure'),
      'a taken email is a failed registration',
    );
    // A login's event names the request that logged it.
    const [event] = await services.db.query<{ request_id: string; session_id: string }>(
      `SELECT request_id, session_id FROM security_events WHERE type = 'login_success' ORDER BY id LIMIT 1`,
    );
    const line = logs.records().find((r) => r.msg === 'login' && r.sid === event!.session_id);
    assert.equal(line?.reqId, event!.request_id);
    await services.auditSealer.seal();
    const report = await verifyAuditLog(services.db);
    assert.equal(report.ok, true, JSON.stringify(report.problem));
    assert.equal(report.unsealed, 0);
  });
});
