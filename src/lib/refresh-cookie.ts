// Browser mode: the refresh token lives in an HttpOnly, Secure, SameSite=Strict cookie
// with the __Host- prefix, never in a body a script could read. Requests that use the cookie
// must prove they are not cross-site: a custom header (which a cross-origin page can
// only send after a CORS preflight our allow-list answers) and an allowed Origin.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';
import { TesseraError } from '../errors/errors.js';
import { CSRF_HEADER } from '../plugins/external/cors.js';
import type { IssuedTokenPair, TokenResponseBody } from '../grants/token-pair.js';

/**
 * `__Host-`: only this host can set it (no Domain attribute, Secure, Path=/), so a sibling
 * subdomain cannot plant or shadow it (cookie tossing). Only the token and revocation
 * endpoints read it; everything else ignores it, and logs redact the Cookie header.
 */
export const REFRESH_COOKIE = '__Host-tessera-refresh';
const COOKIE_PATH = '/';

function setRefreshCookie(reply: FastifyReply, token: string, expiresAt: number): void {
  const maxAge = Math.max(0, expiresAt - Math.floor(Date.now() / 1000));
  reply.setCookie(REFRESH_COOKIE, token, {
    path: COOKIE_PATH,
    httpOnly: true,
    secure: true,
    sameSite: 'strict',
    maxAge,
  });
}

/**
 * Hands a fresh refresh token over: in the body, or in browser mode as the HttpOnly
 * cookie (expiring with the token), leaving it out of the body a script could read.
 */
export function deliverRefreshToken(
  reply: FastifyReply,
  issued: IssuedTokenPair,
  mode: 'body' | 'cookie',
): TokenResponseBody {
  if (mode === 'body') return issued.response;
  const { refresh_token, ...rest } = issued.response;
  setRefreshCookie(reply, refresh_token, issued.refreshExpiresAt);
  return rest;
}

export function clearRefreshCookie(reply: FastifyReply): void {
  reply.setCookie(REFRESH_COOKIE, '', {
    path: COOKIE_PATH,
    httpOnly: true,
    secure: true,
    sameSite: 'strict',
    maxAge: 0,
  });
}

export function refreshCookie(request: FastifyRequest): string | undefined {
  const value = request.cookies?.[REFRESH_COOKIE];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** Refuses a cookie-authenticated request that could be a cross-site forgery. */
export function checkNotCrossSite(request: FastifyRequest, config: Pick<Config, 'issuer' | 'corsOrigins'>): void {
  const refuse = (detail: string) =>
    new TesseraError('forbidden', { description: 'Cross-site request refused', detail });
  if (request.headers[CSRF_HEADER] !== '1') throw refuse('missing CSRF header');
  const origin = request.headers.origin;
  const site = request.headers['sec-fetch-site'];
  const own = new URL(config.issuer).origin;
  if (typeof origin === 'string') {
    if (origin !== own && !config.corsOrigins.includes(origin)) throw refuse('origin not allowed');
  } else if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') {
    throw refuse('cross-site fetch without origin');
  }
}
