// An access token is live at our own endpoints only while its session belongs to its
// subject: a token (signed by us, e.g. from a bug elsewhere) that pairs one user's sub
// with another user’s sid is refused at bearer authentication.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { build, userWithRoles } from '../helpers/build.js';

test('a token whose sid names another user’s session is not live', async (t) => {
  const built = await build(t);
  const alice = await userWithRoles(built, ['user']);
  const bob = await userWithRoles(built, ['user']);
  const bobSid = decodeJwt(bob.tokens.access_token).sid as string;
  const { token } = await built.services.tokens.issueAccessToken({
    sub: alice.id,
    aud: built.config.issuer,
    clientId: 'tessera',
    scope: 'openid profile email',
    sid: bobSid,
    roles: ['user'],
  });
  const mixed = await built.app.inject({
    method: 'GET',
    url: '/users/me',
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(mixed.statusCode, 401);
  assert.equal(mixed.json().error, 'invalid_token');
  // The same construction with her own session is accepted, so the refusal is the pairing.
  const own = decodeJwt(alice.tokens.access_token).sid as string;
  const { token: good } = await built.services.tokens.issueAccessToken({
    sub: alice.id,
    aud: built.config.issuer,
    clientId: 'tessera',
    scope: 'openid profile email',
    sid: own,
    roles: ['user'],
  });
  const ok = await built.app.inject({ method: 'GET', url: '/users/me', headers: { authorization: `Bearer ${good}` } });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal(ok.json().id, alice.id);
});
