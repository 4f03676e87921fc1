// End to end: the real Tessera app listening on 127.0.0.1, and the verifier kit polling its
// GET /oauth/revoked. A disabled client's token, and a client_credentials token its client
// revoked (RFC 7009), are refused within one poll interval; other tokens stay valid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJwt } from 'jose';
import { createVerifier, VerifierError, type Verifier } from '@tessera/verifier';
import { build, freePort, userWithRoles } from '../helpers/build.js';
import { basic, newClient } from '../access/helpers.js';

const INTERVAL = 0.2;

async function codeOf(verifier: Verifier, token: string): Promise<string> {
  try {
    await verifier.verify(token);
    return 'valid';
  } catch (error) {
    assert.ok(error instanceof VerifierError, String(error));
    return error.code;
  }
}

/** The verdict once it is `expected`, or the last one after a few poll intervals. */
async function settlesTo(verifier: Verifier, token: string, expected: string): Promise<string> {
  const deadline = Date.now() + INTERVAL * 1000 * 5;
  let code = await codeOf(verifier, token);
  while (code !== expected && Date.now() < deadline) {
    await sleep(50);
    code = await codeOf(verifier, token);
  }
  return code;
}

test('the verifier kit refuses a disabled client’s tokens and a revoked jti, polling a real Tessera', async (t) => {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const built = await build(t, { ISSUER: issuer, PORT: String(port), CLIENT_SECRET_OVERLAP: '0' });
  await built.app.listen({ port, host: '127.0.0.1' });
  const admin = await userWithRoles(built, ['admin']);

  const register = async (name: string) => {
    const res = await fetch(`${issuer}/admin/clients`, {
      method: 'POST',
      headers: { ...admin.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name, scopes: ['reports:read'] }),
    });
    assert.equal(res.status, 201);
    const body = (await res.json()) as { client_id: string; client_secret: string };
    return { id: body.client_id, secret: body.client_secret };
  };
  const tokenOf = async (client: { id: string; secret: string }) => {
    const res = await fetch(`${issuer}/oauth/token`, {
      method: 'POST',
      headers: { ...basic(client.id, client.secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { access_token: string }).access_token;
  };

  const reader = await newClient(built.services, { introspect: true, name: 'resource service' });
  const verifier = createVerifier({
    issuer,
    audience: issuer,
    revocation: { clientId: reader.id, clientSecret: reader.secret, interval: INTERVAL },
  });
  t.after(() => verifier.close());

  const doomed = await register('to be disabled');
  const kept = await register('kept');
  const doomedToken = await tokenOf(doomed);
  const keptToken = await tokenOf(kept);
  const revokedToken = await tokenOf(kept);
  assert.equal(await codeOf(verifier, doomedToken), 'valid');
  assert.equal(await codeOf(verifier, revokedToken), 'valid');

  const disabled = await fetch(`${issuer}/admin/clients/${doomed.id}`, {
    method: 'PATCH',
    headers: { ...admin.auth, 'content-type': 'application/json' },
    body: JSON.stringify({ disabled: true }),
  });
  assert.equal(disabled.status, 200);
  const revoked = await fetch(`${issuer}/oauth/revoke`, {
    method: 'POST',
    headers: { ...basic(kept.id, kept.secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: revokedToken }).toString(),
  });
  assert.equal(revoked.status, 200);

  assert.equal(await settlesTo(verifier, doomedToken, 'ERR_REVOKED'), 'ERR_REVOKED', 'the disabled client');
  assert.equal(await settlesTo(verifier, revokedToken, 'ERR_REVOKED'), 'ERR_REVOKED', 'the revoked jti');
  assert.equal(await codeOf(verifier, keptToken), 'valid', 'the same client’s other token');
  const stats = verifier.stats();
  assert.ok(stats.revokedClients >= 1);
  assert.equal(stats.revokedTokens, 1);
  assert.equal(decodeJwt(revokedToken).client_id, kept.id);
});
