// Forged and otherwise invalid access tokens for the key-rotation soak test: each kind
// names the verifier error code it must be refused with, so a forgery that is refused
// for some unrelated reason (a bug in the forgery itself) does not pass unnoticed.
import { createHmac, createPublicKey, randomBytes, randomUUID } from 'node:crypto';
import {
  SignJWT,
  base64url,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  type CryptoKey,
  type JWK,
  type KeyObject,
} from 'jose';
import type { TestServices as Services } from '../helpers/build.js';
import { TokenService } from '../../src/tokens/token-service.js';
import type { VerifierErrorCode } from '@tessera/verifier';

export interface Forgery {
  kind: string;
  token: string;
  /** The codes the verifier may refuse it with. */
  expect: readonly VerifierErrorCode[];
}

/** A private signing key in the attacker's hands (their own, or one stolen from Tessera). */
export interface HeldKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey | KeyObject;
}

export interface ForgeryInput {
  issuer: string;
  services: Services;
  /** A real access token minted moments ago, and the published JWK of its kid. */
  base: { token: string; jwk: JWK };
  /** A real refresh token. */
  refreshToken: string | undefined;
  /** Another published kid (not the base token's), if any. */
  otherKid: string | undefined;
  attacker: Attacker;
  /** A Tessera key an attacker stole before it was revoked: tokens signed with it after revocation. */
  stolen?: HeldKey;
}

export interface Attacker {
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function newAttacker(): Promise<Attacker> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateKey, publicJwk: await exportJWK(publicKey) };
}

const encode = (value: unknown) => base64url.encode(JSON.stringify(value));

/** The claims of a well-formed Tessera user access token (an admin, to make it worth forging). */
function claimsFor(issuer: string, sub: string, sid: string | undefined): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: issuer,
    aud: issuer,
    sub,
    ...(sid ? { sid } : {}),
    jti: randomUUID(),
    iat: now,
    nbf: now,
    exp: now + 600,
    client_id: 'tessera',
    scope: 'openid profile email',
    roles: ['admin'],
  };
}

async function signWith(
  key: HeldKey,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header })
    .sign(key.privateKey);
}

/** One of every kind, built around the freshest real token. */
export async function forgeRound(input: ForgeryInput): Promise<Forgery[]> {
  const { issuer, services, base, attacker } = input;
  const [h, p, s] = base.token.split('.') as [string, string, string];
  const header = decodeProtectedHeader(base.token) as Record<string, unknown>;
  const payload = decodeJwt(base.token);
  const sub = String(payload.sub);
  const sid = typeof payload.sid === 'string' ? payload.sid : undefined;
  const kid = String(header.kid);
  const forged: Forgery[] = [];
  const add = (kind: string, token: string, ...expect: VerifierErrorCode[]) => forged.push({ kind, token, expect });

  // A real token with its payload changed (more roles), signature kept.
  add('tampered-payload', `${h}.${encode({ ...payload, roles: ['admin'] })}.${s}`, 'ERR_SIGNATURE');
  // A real token whose header points at another published key.
  if (input.otherKid) add('kid-swapped', `${encode({ ...header, kid: input.otherKid })}.${p}.${s}`, 'ERR_SIGNATURE');
  // alg "none" and an empty signature.
  add(
    'alg-none',
    `${encode({ alg: 'none', typ: 'at+jwt', kid })}.${encode(claimsFor(issuer, sub, sid))}.`,
    'ERR_ALG_NOT_ALLOWED',
  );
  // HS256 keyed with the published public key (the classic key-confusion attack).
  const pem = createPublicKey({ key: base.jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
  const hsInput = `${encode({ alg: 'HS256', typ: 'at+jwt', kid })}.${encode(claimsFor(issuer, sub, sid))}`;
  add(
    'hs256-with-public-key',
    `${hsInput}.${createHmac('sha256', pem).update(hsInput).digest('base64url')}`,
    'ERR_ALG_NOT_ALLOWED',
  );
  // The real ES256 signature relabelled as another allowed algorithm.
  add('alg-relabelled-ps256', `${encode({ ...header, alg: 'PS256' })}.${p}.${s}`, 'ERR_KEY_ALG_MISMATCH');
  // The attacker's own key: under a kid copied from the JWKS, under a made-up kid, and
  // shipped inside the header.
  const own: HeldKey = { kid, alg: 'ES256', privateKey: attacker.privateKey };
  add('attacker-key-copied-kid', await signWith(own, claimsFor(issuer, sub, sid)), 'ERR_SIGNATURE');
  add(
    'attacker-key-unknown-kid',
    await signWith({ ...own, kid: randomBytes(32).toString('base64url') }, claimsFor(issuer, sub, sid)),
    'ERR_UNKNOWN_KID',
  );
  add(
    'attacker-key-embedded-jwk',
    await signWith(own, claimsFor(issuer, sub, sid), { jwk: attacker.publicJwk }),
    'ERR_KEY_REFERENCE_HEADER',
  );
  // Signed by Tessera's own current key, but not valid for this resource service.
  const input_ = {
    sub,
    aud: issuer,
    clientId: 'tessera',
    scope: 'openid profile',
    ...(sid ? { sid } : {}),
    roles: ['user'],
  };
  add('expired', (await services.tokens.issueAccessToken(input_, Date.now() - 3_600_000)).token, 'ERR_EXPIRED');
  add(
    'not-yet-valid',
    (await services.tokens.issueAccessToken(input_, Date.now() + 3_600_000)).token,
    'ERR_NOT_YET_VALID',
    'ERR_ISSUED_IN_FUTURE',
  );
  add(
    'wrong-audience',
    (await services.tokens.issueAccessToken({ ...input_, aud: 'https://another-service.example' })).token,
    'ERR_CLAIM_INVALID',
  );
  const impostor = new TokenService(services.keystore, { issuer: 'https://impostor.example', accessTokenTtl: 600 });
  add('wrong-issuer', (await impostor.issueAccessToken(input_)).token, 'ERR_CLAIM_INVALID');
  // A real refresh token, and an access token signed with the (never published) refresh key.
  if (input.refreshToken) add('refresh-token', input.refreshToken, 'ERR_TYP');
  add(
    'signed-with-refresh-key',
    await signWith(services.keystore.signingKey('refresh'), claimsFor(issuer, sub, sid)),
    'ERR_UNKNOWN_KID',
  );
  // A fresh token signed with the stolen key after its revocation.
  if (input.stolen)
    add('stolen-revoked-key', await signWith(input.stolen, claimsFor(issuer, sub, sid)), 'ERR_UNKNOWN_KID');
  return forged;
}
