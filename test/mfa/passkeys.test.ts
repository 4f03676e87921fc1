// Passkeys over the API with a software authenticator: registration, the second step by
// assertion, and what is refused: a replayed assertion, another origin or RP, another
// user's passkey, a cloned authenticator's counter, a registration challenge used twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';
import { auth, claims, mfaApp, mfaToken, newUser, secondStep, type Tokens } from './helpers.js';

const ORIGIN = 'http://localhost:3000';

async function registerPasskey(app: FastifyInstance, token: string, authenticator: SoftAuthenticator, origin = ORIGIN) {
  const options = await app.inject({
    method: 'POST',
    url: '/users/me/mfa/webauthn/register/options',
    headers: auth(token),
  });
  assert.equal(options.statusCode, 200, options.body);
  const creation = options.json<PublicKeyCredentialCreationOptionsJSON>();
  const credential = authenticator.register(creation, origin);
  const verify = (c: unknown) =>
    app.inject({
      method: 'POST',
      url: '/users/me/mfa/webauthn/register/verify',
      headers: auth(token),
      payload: { credential: c, label: 'Test key' },
    });
  return { creation, credential, verify, res: await verify(credential) };
}

const withPasskeyStep = (pending: { mfa_token: string }, assertion: unknown) => ({
  mfa_token: pending.mfa_token,
  method: 'webauthn',
  assertion,
});

test('a passkey: registered from a real attestation, then the second step by a real assertion', async (t) => {
  const { app, services } = await mfaApp(t);
  const user = await newUser(app);
  const key = new SoftAuthenticator();
  const { creation, res } = await registerPasskey(app, user.tokens.access_token, key);
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(creation.rp.id, 'localhost');
  assert.equal(creation.attestation, 'none');
  const enrolled = res.json<{ factor: { kind: string; label: string }; recovery_codes: string[] }>();
  assert.equal(enrolled.factor.kind, 'webauthn');
  assert.equal(enrolled.factor.label, 'Test key');
  assert.equal(enrolled.recovery_codes.length, 10);

  const pending = await mfaToken(app, user.email);
  assert.deepEqual(pending.methods, ['webauthn', 'recovery_code']);
  const request = pending.webauthn as PublicKeyCredentialRequestOptionsJSON;
  assert.deepEqual(
    request.allowCredentials?.map((c) => c.id),
    key.credentialIds(),
  );
  const assertion = key.authenticate(request, ORIGIN);
  const done = await secondStep(app, withPasskeyStep(pending, assertion));
  assert.equal(done.statusCode, 200, done.body);
  const access = claims(done.json<Tokens>().access_token);
  assert.deepEqual(access.amr, ['pwd', 'hwk', 'user', 'mfa']);
  assert.equal(access.acr, 'phr');
  const [row] = await services.db.query<{ sign_count: string }>(
    'SELECT sign_count FROM mfa_factors WHERE user_id = $1',
    [user.id],
  );
  assert.equal(Number(row!.sign_count), 1);

  // The same assertion again, on a new login: its challenge is spent.
  const next = await mfaToken(app, user.email);
  const replay = await secondStep(app, withPasskeyStep(next, assertion));
  assert.equal(replay.statusCode, 401);
  assert.equal(replay.json<{ error: string }>().error, 'invalid_code');
});

test('refused assertions: another origin, another RP, a cloned counter, another user’s passkey', async (t) => {
  const { app, services } = await mfaApp(t, { CAPTCHA_AFTER_FAILURES: '20' });
  const alice = await newUser(app);
  const bob = await newUser(app);
  const aliceKey = new SoftAuthenticator();
  const bobKey = new SoftAuthenticator();
  assert.equal((await registerPasskey(app, alice.tokens.access_token, aliceKey)).res.statusCode, 200);
  assert.equal((await registerPasskey(app, bob.tokens.access_token, bobKey)).res.statusCode, 200);

  const pending = await mfaToken(app, alice.email);
  const options = pending.webauthn as PublicKeyCredentialRequestOptionsJSON;
  const fresh = async () => (await mfaToken(app, alice.email)).webauthn as PublicKeyCredentialRequestOptionsJSON;
  const cases: [string, unknown][] = [
    ['another origin', aliceKey.authenticate(options, 'https://evil.example')],
    ['another RP id', aliceKey.authenticate(await fresh(), ORIGIN, { rpId: 'evil.example' })],
    // Bob's key answering a challenge made for Alice (his credential is not hers).
    ['another user', bobKey.authenticate({ ...(await fresh()), allowCredentials: [] }, ORIGIN)],
    ['a made-up challenge', aliceKey.authenticate(await fresh(), ORIGIN, { challenge: 'bm90LWEtY2hhbGxlbmdl' })],
  ];
  for (const [name, assertion] of cases) {
    const res = await secondStep(app, withPasskeyStep(pending, assertion));
    assert.equal(res.statusCode, 401, `${name}: ${res.body}`);
    assert.equal(res.json<{ error: string }>().error, 'invalid_code', name);
  }
  // A good one moves the counter to 1; a clone answering with 1 again is refused.
  assert.equal(
    (await secondStep(app, withPasskeyStep(pending, aliceKey.authenticate(await fresh(), ORIGIN)))).statusCode,
    200,
  );
  const again = await mfaToken(app, alice.email);
  const cloned = aliceKey.authenticate(again.webauthn as PublicKeyCredentialRequestOptionsJSON, ORIGIN, { counter: 1 });
  const res = await secondStep(app, withPasskeyStep(again, cloned));
  assert.equal(res.statusCode, 401);
  const reasons = await services.db.query<{ reason: string }>(
    `SELECT detail->>'reason' AS reason FROM security_events WHERE type = 'mfa_failure' AND user_id = $1 ORDER BY id`,
    [alice.id],
  );
  assert.equal(reasons.length, 5, JSON.stringify(reasons));
  assert.match(reasons[2]!.reason, /unknown passkey/);
  assert.match(reasons[4]!.reason, /counter/i);
});

test('registration: a challenge works once, for its own user, from an allowed origin; a schema guards the response', async (t) => {
  const { app, services } = await mfaApp(t);
  const user = await newUser(app);
  const other = await newUser(app);
  const key = new SoftAuthenticator();
  const elsewhere = await registerPasskey(app, user.tokens.access_token, key, 'https://evil.example');
  assert.equal(elsewhere.res.statusCode, 400, 'another origin');
  const first = await registerPasskey(app, user.tokens.access_token, new SoftAuthenticator());
  assert.equal(first.res.statusCode, 200);
  assert.equal((await first.verify(first.credential)).statusCode, 400, 'the challenge is spent');
  // Another user's token with this user's ceremony: the challenge is not theirs (and stays the owner's).
  const options = await app.inject({
    method: 'POST',
    url: '/users/me/mfa/webauthn/register/options',
    headers: auth(user.tokens.access_token),
  });
  const credential = new SoftAuthenticator().register(options.json<PublicKeyCredentialCreationOptionsJSON>(), ORIGIN);
  const post = (token: string, c: unknown) =>
    app.inject({
      method: 'POST',
      url: '/users/me/mfa/webauthn/register/verify',
      headers: auth(token),
      payload: { credential: c },
    });
  assert.equal((await post(other.tokens.access_token, credential)).statusCode, 400);
  const extra = { ...credential, response: { ...credential.response, extra: 'x' } };
  assert.equal((await post(user.tokens.access_token, extra)).statusCode, 400, 'unknown members are refused');
  assert.equal((await post(user.tokens.access_token, credential)).statusCode, 200, 'the owner still can');
  const [count] = await services.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM mfa_factors WHERE user_id IN ($1, $2) AND kind = 'webauthn'`,
    [user.id, other.id],
  );
  assert.equal(count!.n, 2);
});
