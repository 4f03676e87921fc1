// The one place that signs Tessera's tokens, and verifies them through the verifier
// kit's core with the keystore as key source, so resource services and Tessera judge a
// token alike. Access tokens follow RFC 9068 (typ at+jwt); refresh tokens are signed
// with a key that is never published.
import { createHash, randomUUID } from 'node:crypto';
import { decodeJwt, type JWTPayload } from 'jose';
import { verifyJwt, VerifierError, type AccessTokenClaims, type VerifierErrorCode } from '@tessera/verifier';
import type { Keystore } from '../keys/keystore.js';
import type { KeyPurpose } from '../domain/keys/key-states.js';
import { signCompactJws } from './compact-jws.js';

const ACCESS_TYP = 'at+jwt';
/** OIDC Core 2: ID tokens carry typ JWT, so neither kind passes for the other (RFC 9068 4). */
const ID_TYP = 'JWT';
const REFRESH_TYP = 'refresh+jwt';

export interface AccessTokenInput {
  sub: string;
  aud: string;
  clientId: string;
  scope: string;
  sid?: string;
  roles?: string[];
  authTime?: number;
  /** RFC 8176 methods of the session's login, and the acr they amount to. */
  amr?: string[];
  acr?: string;
}

export interface AccessClaims extends JWTPayload {
  sub: string;
  jti: string;
  client_id: string;
  scope: string;
  sid?: string;
  roles?: string[];
  auth_time?: number;
  amr?: string[];
  acr?: string;
}

export interface IdTokenInput {
  sub: string;
  /** The client the ID token is for. */
  aud: string;
  authTime: number;
  sid: string;
  amr: string[];
  acr: string;
  nonce?: string | undefined;
  /** The access token issued with it, for at_hash (OIDC Core 3.1.3.6). */
  accessToken: string;
}

export interface IdTokenHint {
  sub: string;
  aud: string[];
  sid: string | undefined;
}

export interface RefreshClaims {
  sub: string;
  sid: string;
  jti: string;
  iat: number;
  exp: number;
}

export class TokenInvalidError extends Error {
  /** The verifier kit's code for why, the same a resource service would get. */
  readonly code: VerifierErrorCode;

  constructor(code: VerifierErrorCode, reason: string = code) {
    super(reason);
    this.name = 'TokenInvalidError';
    this.code = code;
  }
}

/** OIDC Core 3.1.3.6: the left half of the hash the signing algorithm uses, base64url. */
function tokenHash(token: string, alg: string): string {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : 'sha256')
    .update(token, 'ascii')
    .digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

export class TokenService {
  constructor(
    private readonly keystore: Keystore,
    private readonly settings: { issuer: string; accessTokenTtl: number },
  ) {}

  async issueAccessToken(
    input: AccessTokenInput,
    now = Date.now(),
  ): Promise<{ token: string; expiresIn: number; jti: string }> {
    const key = this.keystore.signingKey('access');
    const iat = Math.floor(now / 1000);
    const jti = randomUUID();
    const claims: Record<string, unknown> = { client_id: input.clientId, scope: input.scope };
    if (input.sid) claims.sid = input.sid;
    if (input.roles) claims.roles = input.roles;
    if (input.authTime !== undefined) claims.auth_time = input.authTime;
    if (input.amr) claims.amr = input.amr;
    if (input.acr) claims.acr = input.acr;
    Object.assign(claims, {
      iss: this.settings.issuer,
      sub: input.sub,
      aud: input.aud,
      iat,
      nbf: iat,
      exp: iat + this.settings.accessTokenTtl,
      jti,
    });
    const token = await signCompactJws({ alg: key.alg, kid: key.kid, typ: ACCESS_TYP }, claims, key.privateKey);
    return { token, expiresIn: this.settings.accessTokenTtl, jti };
  }

  /** OIDC Core 2 and 3.1.3.7, signed with the published access-token key. */
  async issueIdToken(input: IdTokenInput, now = Date.now()): Promise<string> {
    const key = this.keystore.signingKey('access');
    const iat = Math.floor(now / 1000);
    const claims: Record<string, unknown> = {
      auth_time: input.authTime,
      sid: input.sid,
      amr: input.amr,
      acr: input.acr,
      at_hash: tokenHash(input.accessToken, key.alg),
    };
    if (input.nonce !== undefined) claims.nonce = input.nonce;
    Object.assign(claims, {
      iss: this.settings.issuer,
      sub: input.sub,
      aud: input.aud,
      iat,
      exp: iat + this.settings.accessTokenTtl,
      jti: randomUUID(),
    });
    return signCompactJws({ alg: key.alg, kid: key.kid, typ: ID_TYP }, claims, key.privateKey);
  }

  /**
   * An ID token we issued, as a hint (RP-Initiated Logout, prompt=none): signature, issuer
   * and typ checked; an expired one is still accepted (OIDC RP-Initiated Logout 1.0 2).
   */
  async verifyIdTokenHint(token: string, now = Date.now()): Promise<IdTokenHint> {
    let exp: unknown;
    let aud: unknown;
    try {
      ({ exp, aud } = decodeJwt(token));
    } catch {
      throw new TokenInvalidError('ERR_TOKEN_MALFORMED', 'unreadable id_token_hint');
    }
    const audiences =
      typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a) => typeof a === 'string') : [];
    if (typeof exp !== 'number' || audiences.length === 0)
      throw new TokenInvalidError('ERR_CLAIM_INVALID', 'id_token_hint without exp or aud');
    // Judge it as of a moment it was valid; the signature and every other check stay.
    const at = Math.min(now, (exp - 1) * 1000);
    const claims = await this.verify(token, 'access', ID_TYP, audiences, at);
    return { sub: claims.sub, aud: audiences, sid: claims.sid };
  }

  async issueRefreshToken(claims: RefreshClaims): Promise<string> {
    const key = this.keystore.signingKey('refresh');
    const payload = {
      sid: claims.sid,
      iss: this.settings.issuer,
      sub: claims.sub,
      aud: this.settings.issuer,
      iat: claims.iat,
      exp: claims.exp,
      jti: claims.jti,
    };
    return signCompactJws({ alg: key.alg, kid: key.kid, typ: REFRESH_TYP }, payload, key.privateKey);
  }

  async verifyRefreshToken(token: string, now = Date.now()): Promise<RefreshClaims> {
    const claims = await this.verify(token, 'refresh', REFRESH_TYP, [this.settings.issuer], now);
    if (typeof claims.sid !== 'string') throw new TokenInvalidError('ERR_CLAIM_INVALID', 'refresh token without sid');
    return { sub: claims.sub, sid: claims.sid, jti: claims.jti, iat: claims.iat, exp: claims.exp };
  }

  async verifyAccessToken(token: string, audiences: string[], now = Date.now()): Promise<AccessClaims> {
    const claims = await this.verify(token, 'access', ACCESS_TYP, audiences, now);
    if (typeof claims.client_id !== 'string' || typeof claims.scope !== 'string')
      throw new TokenInvalidError('ERR_CLAIM_INVALID', 'access token claims missing');
    return claims as AccessClaims;
  }

  private async verify(
    token: string,
    purpose: KeyPurpose,
    typ: string,
    audience: string[],
    now: number,
  ): Promise<AccessTokenClaims> {
    try {
      return await verifyJwt(
        token,
        {
          issuer: this.settings.issuer,
          audience,
          typ,
          // Keys come from our keystore only, by kid and purpose: a refresh key never
          // verifies an access token, nor the other way round.
          keys: (kid) => this.keystore.verificationKey(purpose, kid, new Date(now)),
        },
        now,
      );
    } catch (error) {
      if (error instanceof VerifierError) throw new TokenInvalidError(error.code, error.message);
      throw error;
    }
  }
}
