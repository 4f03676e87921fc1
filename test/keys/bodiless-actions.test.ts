// Action endpoints take a POST without a body, as `curl -X POST` sends it (no content
// type, no body, or an explicit content-length: 0), and still take the JSON body they
// always took; a body they do not take is still refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build, userWithRoles } from '../helpers/build.js';

test('POST /admin/keys/rotate and /admin/keys/{kid}/revoke without a body', async (t) => {
  const built = await build(t, { KEY_SYNC_INTERVAL: '300' });
  const { app } = built;
  const admin = await userWithRoles(built, ['admin']);
  const post = (url: string, extra: { headers?: Record<string, string>; payload?: string } = {}) =>
    app.inject({
      method: 'POST',
      url,
      headers: { ...admin.auth, ...extra.headers },
      ...(extra.payload !== undefined ? { payload: extra.payload } : {}),
    });

  const bare = await post('/admin/keys/rotate');
  assert.equal(bare.statusCode, 200, bare.body);
  assert.equal(bare.json().purpose, 'access', 'no body is a rotation with the defaults');
  assert.equal(bare.json().state, 'next');

  const zero = await post('/admin/keys/rotate', { headers: { 'content-length': '0' } });
  assert.equal(zero.statusCode, 200, zero.body);
  assert.equal(zero.json().kid, bare.json().kid, 'the same pending rotation');
  assert.equal(zero.json().created, false);

  const json = await post('/admin/keys/rotate', {
    headers: { 'content-type': 'application/json' },
    payload: '{"purpose":"refresh"}',
  });
  assert.equal(json.statusCode, 200, json.body);
  assert.equal(json.json().purpose, 'refresh', 'the JSON body still counts');
  const empty = await post('/admin/keys/rotate', { headers: { 'content-type': 'application/json' }, payload: '{}' });
  assert.equal(empty.statusCode, 200, empty.body);

  // What the body may hold is unchanged.
  assert.equal(
    (
      await post('/admin/keys/rotate', {
        headers: { 'content-type': 'application/json' },
        payload: '{"purpose":"signing"}',
      })
    ).statusCode,
    400,
  );
  assert.equal(
    (await post('/admin/keys/rotate', { headers: { 'content-type': 'application/json' }, payload: '{"extra":1}' }))
      .statusCode,
    400,
  );
  assert.equal(
    (await post('/admin/keys/rotate', { headers: { 'content-type': 'text/plain' }, payload: 'purpose=refresh' }))
      .statusCode,
    415,
  );
  // Without a token there is no rotation, body or not.
  assert.equal((await app.inject({ method: 'POST', url: '/admin/keys/rotate' })).statusCode, 401);

  // Revocation acts on the key in the path: the two pending keys, one bodiless way each.
  const revokedBare = await post(`/admin/keys/${bare.json().kid}/revoke`);
  assert.equal(revokedBare.statusCode, 200, revokedBare.body);
  assert.deepEqual(revokedBare.json(), { kid: bare.json().kid, state: 'revoked' });
  const revokedZero = await post(`/admin/keys/${json.json().kid}/revoke`, { headers: { 'content-length': '0' } });
  assert.equal(revokedZero.statusCode, 200, revokedZero.body);
  assert.equal(revokedZero.json().state, 'revoked');

  // And the `{}` it took before.
  const again = await post('/admin/keys/rotate');
  const revokedJson = await post(`/admin/keys/${again.json().kid}/revoke`, {
    headers: { 'content-type': 'application/json' },
    payload: '{}',
  });
  assert.equal(revokedJson.statusCode, 200, revokedJson.body);
});
