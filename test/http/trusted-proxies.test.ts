// X-Forwarded-* is believed only from the proxies TRUST_PROXY names: a client that
// forges the headers keeps its own address (limits, counters, audit log) and protocol.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build, uniqueEmail } from '../helpers/build.js';

const PROXY = '10.0.0.5';

async function auditedIp(built: Awaited<ReturnType<typeof build>>, email: string): Promise<string | null> {
  const account = built.services.credentialGuard.keysFor(email, '0.0.0.0').account;
  const [row] = await built.services.db.query<{ ip: string | null }>(
    `SELECT ip FROM security_events WHERE type = 'login_failure' AND detail->>'account' = $1 ORDER BY id DESC LIMIT 1`,
    [account],
  );
  return row?.ip ?? null;
}

test('a listed proxy: the client is the right-most address that is not a proxy; a forged left part is ignored', async (t) => {
  const built = await build(t, { TRUST_PROXY: `${PROXY},127.0.0.1` });
  const login = (remoteAddress: string, xff: string) => {
    const email = uniqueEmail('proxied');
    return built.app
      .inject({
        method: 'POST',
        url: '/auth/login',
        remoteAddress,
        headers: { 'x-forwarded-for': xff },
        payload: { email, password: 'wrong-password-123' },
      })
      .then(() => email);
  };
  // Through nginx on loopback behind the balancer: "forged, client, balancer-seen" chain.
  assert.equal(await auditedIp(built, await login(PROXY, '6.6.6.6, 198.51.100.4')), '198.51.100.4');
  assert.equal(await auditedIp(built, await login('127.0.0.1', `6.6.6.6, 198.51.100.5, ${PROXY}`)), '198.51.100.5');
  // Straight from a client: the header is not believed at all.
  assert.equal(await auditedIp(built, await login('192.0.2.10', '203.0.113.1')), '192.0.2.10');
});

test('without TRUST_PROXY, rotating X-Forwarded-For does not move the per-IP limit', async (t) => {
  const built = await build(t, { LOGIN_RATE_LIMIT: '5' });
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const res = await built.app.inject({
      method: 'POST',
      url: '/auth/login',
      remoteAddress: '192.0.2.20',
      headers: { 'x-forwarded-for': `198.51.100.${i}` },
      payload: { email: uniqueEmail('rotating'), password: 'wrong-password-123' },
    });
    statuses.push(res.statusCode);
  }
  assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
});

test(
  'production: X-Forwarded-Proto from anyone but a listed proxy does not pass the HTTPS check',
  { skip: !process.env.TEST_DATABASE_URL && 'production needs PostgreSQL' },
  async (t) => {
    const built = await build(t, {
      NODE_ENV: 'production',
      // Production with open registration needs a mail server; nothing is sent to it here.
      SMTP_URL: 'smtp://127.0.0.1:9',
      ISSUER: 'https://id.example.com',
      TRUST_PROXY: PROXY,
      CAPTCHA_SECRET: 'test-secret',
    });
    const payload = { email: 'a@example.com', password: 'whatever-password' };
    const forged = await built.app.inject({
      method: 'POST',
      url: '/auth/login',
      remoteAddress: '192.0.2.30',
      headers: { 'x-forwarded-proto': 'https' },
      payload,
    });
    assert.equal(forged.statusCode, 403);
    assert.deepEqual(forged.json(), { error: 'invalid_request', error_description: 'HTTPS is required' });
    const viaProxy = await built.app.inject({
      method: 'POST',
      url: '/auth/login',
      remoteAddress: PROXY,
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.30' },
      payload,
    });
    assert.equal(viaProxy.statusCode, 401, 'through the proxy the request reaches the login');
  },
);
