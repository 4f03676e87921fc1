// Refresh rotation: one live token per session, grace replays, reuse ends the family.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { build, refresh, registerAndLogin } from '../helpers/build.js';

test('a refresh retires the presented token and returns a new one', async (t) => {
  const { app } = await build(t);
  const { tokens } = await registerAndLogin(app);
  const first = await refresh(app, tokens.refresh_token);
  assert.equal(first.statusCode, 200);
  assert.equal(first.headers['cache-control'], 'no-store');
  const body = first.json();
  assert.equal(body.token_type, 'Bearer');
  assert.notEqual(decodeJwt(body.refresh_token).jti, decodeJwt(tokens.refresh_token).jti);
  assert.equal(decodeProtectedHeader(body.refresh_token).typ, 'refresh+jwt');
  const second = await refresh(app, body.refresh_token);
  assert.equal(second.statusCode, 200);
});

for (const grace of [0, 10]) {
  test(`50 parallel refreshes of one token with grace ${grace}`, async (t) => {
    const { app, services } = await build(t, { REFRESH_REUSE_GRACE: String(grace) });
    const { tokens } = await registerAndLogin(app);
    const sid = decodeJwt(tokens.refresh_token).sid as string;
    const results = await Promise.all(Array.from({ length: 50 }, () => refresh(app, tokens.refresh_token)));
    const ok = results.filter((r) => r.statusCode === 200);
    const [session] = await services.db.query<{ ended_at: Date | null; end_reason: string | null }>(
      'SELECT ended_at, end_reason FROM sessions WHERE id = $1',
      [sid],
    );
    if (grace === 0) {
      assert.equal(ok.length, 1, 'exactly one refresh succeeds');
      for (const r of results.filter((r) => r.statusCode !== 200)) assert.equal(r.json().error, 'invalid_grant');
      assert.ok(session?.ended_at, 'the session is ended');
      assert.equal(session?.end_reason, 'refresh_reuse');
      const events = await services.db.query('SELECT * FROM security_events WHERE session_id = $1 AND type = $2', [
        sid,
        'refresh_reuse',
      ]);
      assert.ok(events.length >= 1);
    } else {
      assert.equal(ok.length, 50, 'every refresh within grace succeeds');
      const jtis = new Set(ok.map((r) => decodeJwt(r.json().refresh_token).jti));
      assert.equal(jtis.size, 1, 'every returned refresh token carries the same jti');
      assert.equal(session?.ended_at, null, 'the session stays alive');
      const next = await refresh(app, ok[0]!.json().refresh_token);
      assert.equal(next.statusCode, 200);
    }
  });
}
