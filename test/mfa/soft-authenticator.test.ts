// The software WebAuthn authenticator against @simplewebauthn/server itself: its registration
// and assertions verify, the counter climbs, and a wrong origin, RP ID, challenge or a
// cloned (lower) counter are refused by the library.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type WebAuthnCredential,
} from '@simplewebauthn/server';
import { decodeAttestationObject, isoBase64URL, isoCBOR } from '@simplewebauthn/server/helpers';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';

const rpID = 'localhost';
const origin = 'http://localhost:3000';

// The library refuses either by throwing (with a reason) or by answering verified: false.
const refused = async (check: Promise<{ verified: boolean }>, reason: RegExp) => {
  let verified: boolean;
  try {
    verified = (await check).verified;
  } catch (err) {
    assert.match((err as Error).message, reason);
    return;
  }
  assert.equal(verified, false);
};

test('registers and authenticates against @simplewebauthn/server; refuses wrong origin, RP ID, challenge, counter', async () => {
  const aaguid = new Uint8Array(16).fill(0xab);
  const authenticator = new SoftAuthenticator({ aaguid });

  const regOptions = await generateRegistrationOptions({ rpName: 'Tessera', rpID, userName: 'ada@example.com' });
  const registration = authenticator.register(regOptions, origin);
  assert.equal(registration.type, 'public-key');
  assert.equal(registration.authenticatorAttachment, 'platform');
  assert.deepEqual(registration.response.transports, ['internal']);
  assert.deepEqual(JSON.parse(isoBase64URL.toUTF8String(registration.response.clientDataJSON)), {
    type: 'webauthn.create',
    challenge: regOptions.challenge,
    origin,
    crossOrigin: false,
  });
  const attestation = decodeAttestationObject(isoBase64URL.toBuffer(registration.response.attestationObject));
  assert.equal(attestation.get('fmt'), 'none');

  const reg = await verifyRegistrationResponse({
    response: registration,
    expectedChallenge: regOptions.challenge,
    expectedOrigin: origin,
    expectedRPID: rpID,
  });
  assert.equal(reg.verified, true);
  assert.ok(reg.registrationInfo);
  assert.equal(reg.registrationInfo.fmt, 'none');
  assert.equal(reg.registrationInfo.userVerified, true);
  assert.equal(reg.registrationInfo.aaguid, 'abababab-abab-abab-abab-abababababab');
  assert.equal(reg.registrationInfo.credential.counter, 0);
  assert.equal(reg.registrationInfo.credential.id, registration.id);
  assert.deepEqual(authenticator.credentialIds(), [registration.id]);
  const coseKey = isoCBOR.decodeFirst<Map<number, unknown>>(reg.registrationInfo.credential.publicKey);
  assert.deepEqual([...coseKey.keys()], [1, 3, -1, -2, -3]);

  const stored: WebAuthnCredential = { ...reg.registrationInfo.credential };
  const authOptions = await generateAuthenticationOptions({
    rpID,
    allowCredentials: [{ id: stored.id, transports: ['internal'] }],
  });
  const verify = (response: AuthenticationResponseJSON, requireUserVerification = true) =>
    verifyAuthenticationResponse({
      response,
      expectedChallenge: authOptions.challenge,
      expectedOrigin: origin,
      expectedRPID: rpID,
      credential: stored,
      requireUserVerification,
    });

  const first = authenticator.authenticate(authOptions, origin);
  assert.equal(first.response.userHandle, regOptions.user.id);
  const one = await verify(first);
  assert.equal(one.verified, true);
  assert.equal(one.authenticationInfo.newCounter, 1);
  assert.equal(one.authenticationInfo.userVerified, true);
  stored.counter = one.authenticationInfo.newCounter;

  const two = await verify(authenticator.authenticate({ ...authOptions, allowCredentials: [] }, origin));
  assert.equal(two.verified, true);
  assert.equal(two.authenticationInfo.newCounter, 2);
  stored.counter = two.authenticationInfo.newCounter;

  const evilOrigin = authenticator.authenticate(authOptions, 'http://evil.example');
  await refused(verify(evilOrigin), /Unexpected response origin/);
  const evilRp = authenticator.authenticate(authOptions, origin, { rpId: 'evil.example' });
  await refused(verify(evilRp), /Unexpected RP ID hash/);
  const wrongChallenge = authenticator.authenticate(authOptions, origin, { challenge: regOptions.challenge });
  await refused(verify(wrongChallenge), /Unexpected authentication response challenge/);
  await refused(verify(authenticator.authenticate(authOptions, origin, { counter: 0 })), /counter value 0 was lower/);
  await refused(verify(authenticator.authenticate(authOptions, origin, { counter: 2 })), /counter value 2 was lower/);
  const tampered = authenticator.authenticate(authOptions, origin);
  const sig = isoBase64URL.toBuffer(tampered.response.signature);
  sig.set([(sig.at(-1) ?? 0) ^ 1], sig.length - 1);
  const forged = { ...tampered, response: { ...tampered.response, signature: isoBase64URL.fromBuffer(sig) } };
  assert.equal((await verify(forged)).verified, false);
  const unverified = authenticator.authenticate(authOptions, origin, { userVerified: false });
  assert.equal((await verify(unverified, false)).verified, true);
  await refused(verify(unverified), /user could not be verified/);

  assert.throws(
    () =>
      authenticator.authenticate({ ...authOptions, allowCredentials: [{ id: 'AAAA', type: 'public-key' }] }, origin),
    { name: 'NotAllowedError' },
  );
  const excluding = { ...regOptions, excludeCredentials: [{ id: stored.id, type: 'public-key' as const }] };
  assert.throws(() => authenticator.register(excluding, origin), { name: 'InvalidStateError' });
  const wrongRp = authenticator.register(regOptions, origin, { rpId: 'evil.example' });
  const wrongRpCheck = verifyRegistrationResponse({
    response: wrongRp,
    expectedChallenge: regOptions.challenge,
    expectedOrigin: origin,
    expectedRPID: rpID,
  });
  await refused(wrongRpCheck, /Unexpected RP ID hash/);
  assert.equal(authenticator.credentialIds().length, 2);
});
