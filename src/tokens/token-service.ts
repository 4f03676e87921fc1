// The one place that signs Tessera's tokens, and verifies them through the verifier
// kit's core with the keystore as key source, so resource services and Tessera judge a
// token alike. Access tokens follow RFC 9068 (typ at+jwt); refresh tokens are signed
// with a key that is never published.
import { randomUUID } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { verifyJwt, VerifierError, type AccessTokenClaims, type VerifierErrorCode } from '@tessera/verifier';
import type { Keystore } from '../keys/keystore.js';
import type { KeyPurpose } from '../domain/keys/key-states.js';

export const ACCESS_TYP = 'at+jwt';
export const REFRESH_TYP = 'refresh+jwt';

export interface AccessTokenInput {
  sub: string;
  aud: string;
  clientId: string;
  scope: string;
  sid?: string;
  roles?: string[];
  authTime?: number;
}

export interface AccessClaims extends JWTPayload {
  sub: string;
  jti: string;
  client_id: string;
  scope: string;
  sid?: string;
  roles?: string[];
  auth_time?: number;
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
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: ACCESS_TYP })
      .setIssuer(this.settings.issuer)
      .setSubject(input.sub)
      .setAudience(input.aud)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + this.settings.accessTokenTtl)
      .setJti(jti)
      .sign(key.privateKey);
    return { token, expiresIn: this.settings.accessTokenTtl, jti };
  }

  async issueRefreshToken(claims: RefreshClaims): Promise<string> {
    const key = this.keystore.signingKey('refresh');
    return new SignJWT({ sid: claims.sid })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: REFRESH_TYP })
      .setIssuer(this.settings.issuer)
      .setSubject(claims.sub)
      .setAudience(this.settings.issuer)
      .setIssuedAt(claims.iat)
      .setExpirationTime(claims.exp)
      .setJti(claims.jti)
      .sign(key.privateKey);
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
