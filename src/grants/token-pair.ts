// What a grant answers: the token response body, and for a session the one way its
// access and refresh tokens are minted together (at login and at every refresh).
import type { Config } from '../config/config.js';
import { refreshTokenExpiry } from '../domain/sessions/refresh-family.js';
import type { TokenService } from '../tokens/token-service.js';
import { acrFor, tokenRoles } from '../domain/mfa/policy.js';

export interface TokenResponseBody {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token?: string;
  /** OIDC Core 3.1.3.3: when openid was granted. */
  id_token?: string;
  scope: string;
}

/** A token response with its refresh token, and when that token expires (unix seconds). */
export interface IssuedTokenPair {
  response: TokenResponseBody & { refresh_token: string };
  refreshExpiresAt: number;
}

/** A session as one token pair describes it. */
export interface SessionTokens {
  sessionId: string;
  userId: string;
  clientId: string;
  scope: string;
  audience: string;
  roles: string[];
  authTime: Date;
  /** The refresh token's id and issue time, as the session row holds them. */
  refreshJti: string;
  refreshIssuedAt: Date;
  sessionExpiresAt: Date;
  /** How the session's login was made (RFC 8176): tokens carry it, and its acr. */
  amr: string[];
  /** OpenID Connect sessions: an ID token too, at the code exchange with the request's nonce. */
  openid?: { nonce?: string | undefined } | undefined;
}

export interface TokenPairDeps {
  tokens: TokenService;
  config: Pick<Config, 'refreshIdleTtl' | 'mfa'>;
}

const epoch = (d: Date) => Math.floor(d.getTime() / 1000);

export async function issueTokenPair(deps: TokenPairDeps, s: SessionTokens): Promise<IssuedTokenPair> {
  const refreshExpiresAt = epoch(refreshTokenExpiry(s.refreshIssuedAt, s.sessionExpiresAt, deps.config.refreshIdleTtl));
  const [access, refresh] = await Promise.all([
    issueAccessToken(deps, s),
    deps.tokens.issueRefreshToken({
      sub: s.userId,
      sid: s.sessionId,
      jti: s.refreshJti,
      iat: epoch(s.refreshIssuedAt),
      exp: refreshExpiresAt,
    }),
  ]);
  return { response: { ...access, refresh_token: refresh }, refreshExpiresAt };
}

/** A session's access token (and ID token) without a refresh token: clients not registered for refresh. */
export async function issueAccessOnly(deps: TokenPairDeps, s: SessionTokens): Promise<TokenResponseBody> {
  return issueAccessToken(deps, s);
}

async function issueAccessToken(deps: TokenPairDeps, s: SessionTokens): Promise<TokenResponseBody> {
  const access = await deps.tokens.issueAccessToken({
    sub: s.userId,
    aud: s.audience,
    clientId: s.clientId,
    scope: s.scope,
    sid: s.sessionId,
    // Under the second-factor policy, no roles until the session used a second factor.
    roles: tokenRoles(s.roles, s.amr, deps.config.mfa),
    authTime: epoch(s.authTime),
    amr: s.amr,
    acr: acrFor(s.amr),
  });
  const body: TokenResponseBody = {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: access.expiresIn,
    scope: s.scope,
  };
  if (s.openid && s.scope.split(' ').includes('openid')) {
    body.id_token = await deps.tokens.issueIdToken({
      sub: s.userId,
      aud: s.clientId,
      authTime: epoch(s.authTime),
      sid: s.sessionId,
      amr: s.amr,
      acr: acrFor(s.amr),
      nonce: s.openid.nonce,
      accessToken: access.token,
    });
  }
  return body;
}
