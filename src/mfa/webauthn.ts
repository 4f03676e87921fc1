// Passkeys (WebAuthn Level 3) through @simplewebauthn/server: registration and
// authentication ceremonies whose challenges are stored server-side and spent once, the
// relying party id and origins from settings, and signature counters checked and moved
// forward by compare-and-set. Responses are checked for shape before the library sees them.
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Queryable } from '../db/database.js';
import {
  advanceSignCount,
  consumeChallenge,
  findPasskey,
  insertChallenge,
  insertPasskey,
  type ChallengePurpose,
  type FactorRow,
} from '../db/repositories/mfa.js';

export interface RelyingParty {
  rpId: string;
  origins: string[];
  name: string;
}

/** How long a ceremony's challenge waits for the authenticator, seconds. */
const CHALLENGE_TTL = 300;
const TIMEOUT_MS = CHALLENGE_TTL * 1000;
const B64URL = /^[A-Za-z0-9_-]{1,4096}$/;

export async function registrationOptions(
  db: Queryable,
  rp: RelyingParty,
  user: { id: string; email: string },
  existing: FactorRow[],
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const options = await generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.rpId,
    userName: user.email,
    userID: new TextEncoder().encode(user.id),
    attestationType: 'none',
    timeout: TIMEOUT_MS,
    // A discoverable credential can later sign in without a password; user verification
    // (PIN or biometric) when the authenticator can.
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    excludeCredentials: existing
      .filter((f) => f.kind === 'webauthn' && f.credential_id)
      .map((f) => ({ id: Buffer.from(f.credential_id!).toString('base64url'), transports: f.transports ?? [] })),
  });
  await insertChallenge(db, {
    challenge: options.challenge,
    userId: user.id,
    purpose: 'register',
    ttlSeconds: CHALLENGE_TTL,
  });
  return options;
}

/** The challenge a response answers, read from its clientDataJSON; undefined when malformed. */
function challengeOf(clientDataJSON: unknown): string | undefined {
  if (typeof clientDataJSON !== 'string' || !B64URL.test(clientDataJSON)) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof parsed.challenge === 'string' && B64URL.test(parsed.challenge) ? parsed.challenge : undefined;
  } catch {
    return undefined;
  }
}

export type CeremonyResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Verifies a registration response against the user's own live challenge and stores the passkey. */
export async function registerPasskey(
  db: Queryable,
  rp: RelyingParty,
  userId: string,
  response: RegistrationResponseJSON,
  label: string,
): Promise<CeremonyResult<FactorRow>> {
  const challenge = challengeOf(response.response?.clientDataJSON);
  if (!challenge || !(await consumeChallenge(db, challenge, 'register', userId)))
    return { ok: false, reason: 'unknown, used or expired challenge' };
  let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
  try {
    verified = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.rpId,
      requireUserVerification: false,
    });
  } catch (error) {
    return { ok: false, reason: (error as Error).message.slice(0, 200) };
  }
  if (!verified.verified) return { ok: false, reason: 'attestation not verified' };
  const { credential } = verified.registrationInfo;
  const credentialId = Buffer.from(credential.id, 'base64url');
  if (await findPasskey(db, credentialId)) return { ok: false, reason: 'credential already registered' };
  const row = await insertPasskey(db, {
    userId,
    label,
    credentialId,
    publicKey: Buffer.from(credential.publicKey),
    signCount: credential.counter,
    transports: (credential.transports ?? []).filter((t) => /^[a-z-]{1,32}$/.test(t)).slice(0, 8),
  });
  return { ok: true, value: row };
}

/**
 * Options for an assertion: for one user's passkeys (a second step), or for any
 * discoverable passkey (passwordless; user verification required).
 */
export async function authenticationOptions(
  db: Queryable,
  rp: RelyingParty,
  user: { id: string; passkeys: FactorRow[] } | null,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const purpose: ChallengePurpose = user ? 'authenticate' : 'passwordless';
  const options = await generateAuthenticationOptions({
    rpID: rp.rpId,
    timeout: TIMEOUT_MS,
    userVerification: user ? 'preferred' : 'required',
    ...(user
      ? {
          allowCredentials: user.passkeys.map((f) => ({
            id: Buffer.from(f.credential_id!).toString('base64url'),
            transports: f.transports ?? [],
          })),
        }
      : {}),
  });
  await insertChallenge(db, {
    challenge: options.challenge,
    userId: user?.id ?? null,
    purpose,
    ttlSeconds: CHALLENGE_TTL,
  });
  return options;
}

/**
 * Verifies an assertion: its challenge is a live one of this purpose (and user), its
 * credential a confirmed passkey (of this user, for a second step), its signature valid,
 * its counter ahead of the stored one (a clone shows up as a counter that does not move).
 */
export async function verifyAssertion(
  db: Queryable,
  rp: RelyingParty,
  userId: string | null,
  response: AuthenticationResponseJSON,
): Promise<CeremonyResult<{ factor: FactorRow; userVerified: boolean }>> {
  const challenge = challengeOf(response.response?.clientDataJSON);
  if (!challenge) return { ok: false, reason: 'malformed clientDataJSON' };
  const purpose: ChallengePurpose = userId ? 'authenticate' : 'passwordless';
  if (!(await consumeChallenge(db, challenge, purpose, userId)))
    return { ok: false, reason: 'unknown, used or expired challenge' };
  if (typeof response.rawId !== 'string' || !B64URL.test(response.rawId) || response.id !== response.rawId)
    return { ok: false, reason: 'malformed credential id' };
  const factor = await findPasskey(db, Buffer.from(response.rawId, 'base64url'));
  if (!factor || (userId !== null && factor.user_id !== userId)) return { ok: false, reason: 'unknown passkey' };
  const stored = Number(factor.sign_count);
  let result: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
  try {
    result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.rpId,
      credential: {
        id: response.rawId,
        publicKey: new Uint8Array(factor.public_key!),
        counter: stored,
        transports: factor.transports ?? [],
      },
      requireUserVerification: userId === null,
    });
  } catch (error) {
    return { ok: false, reason: (error as Error).message.slice(0, 200) };
  }
  if (!result.verified) return { ok: false, reason: 'signature not verified' };
  const { newCounter, userVerified } = result.authenticationInfo;
  if (!(await advanceSignCount(db, factor.id, stored, newCounter)))
    return { ok: false, reason: 'signature counter moved by a parallel use' };
  return { ok: true, value: { factor, userVerified } };
}
