// The one place that signs and verifies Tessera's tokens. Access tokens follow
// RFC 9068 (typ at+jwt); refresh tokens are signed with a key that is never published.
import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, type JWTHeaderParameters, type JWTPayload } from 'jose';
import type { Keystore } from '../keys/keystore.js';
import type { KeyPurpose } from '../domain/keys/key-states.js';

export const ACCESS_TYP = 'at+jwt';
export const REFRESH_TYP = 'refresh+jwt';
/** Larger tokens are refused before any parsing. */
export const MAX_TOKEN_LENGTH = 8192;
const CLOCK_TOLERANCE = 5;

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
  constructor(reason: string) {
    super(reason);
    this.name = 'TokenInvalidError';
  }
}

export class TokenService {
  constructor(
    private readonly keystore: Keystore,
    private readonly settings: { issuer: string; accessTokenTtl: number },
  ) {}

  async issueAccessToken(input: AccessTokenInput, now = Date.now()): Promise<{ token: string; expiresIn: number; jti: string }> {
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

  async verifyRefreshToken(token: string): Promise<RefreshClaims> {
    const payload = await this.verify(token, 'refresh', REFRESH_TYP, this.settings.issuer);
    if (typeof payload.sid !== 'string') throw new TokenInvalidError('refresh token without sid');
    return { sub: payload.sub!, sid: payload.sid, jti: payload.jti!, iat: payload.iat!, exp: payload.exp! };
  }

  async verifyAccessToken(token: string, audiences: string[]): Promise<AccessClaims> {
    const payload = await this.verify(token, 'access', ACCESS_TYP, audiences);
    if (typeof payload.client_id !== 'string' || typeof payload.scope !== 'string') throw new TokenInvalidError('access token claims missing');
    return payload as AccessClaims;
  }

  private async verify(token: string, purpose: KeyPurpose, typ: string, audience: string | string[]): Promise<JWTPayload> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw new TokenInvalidError('token size');
    try {
      const { payload } = await jwtVerify(
        token,
        (header: JWTHeaderParameters) => {
          // Keys come from our keystore only: never from jwk, jku, x5u or x5c in the token.
          if (header.jwk || header.jku || header.x5u || header.x5c || header.crit) throw new TokenInvalidError('key reference in header');
          const found = typeof header.kid === 'string' ? this.keystore.verificationKey(purpose, header.kid) : undefined;
          if (!found || found.alg !== header.alg) throw new TokenInvalidError('unknown key');
          return found.key;
        },
        {
          issuer: this.settings.issuer,
          audience,
          typ,
          clockTolerance: CLOCK_TOLERANCE,
          requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti'],
          algorithms: ['ES256', 'EdDSA', 'RS256', 'PS256'],
        },
      );
      const now = Math.floor(Date.now() / 1000);
      if (typeof payload.iat !== 'number' || payload.iat > now + CLOCK_TOLERANCE) throw new TokenInvalidError('issued in the future');
      return payload;
    } catch (error) {
      if (error instanceof TokenInvalidError) throw error;
      throw new TokenInvalidError((error as { code?: string }).code ?? 'verification failed');
    }
  }
}
