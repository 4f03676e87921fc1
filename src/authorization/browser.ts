// The browser's side of the hosted pages: the session cookie behind single sign-on, the
// binding cookie that ties a pending authorization request (and its forms) to the browser
// that started it, and the CSRF tokens of those forms.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Queryable } from '../db/database.js';
import {
  createBrowserSession,
  findLiveBrowserSession,
  renewBrowserAuthentication,
  type BrowserSessionRow,
} from '../db/repositories/browser-sessions.js';

/** `__Host-`: Secure, Path=/, no Domain, so no sibling host can set or read it. */
const SESSION_COOKIE = '__Host-tessera-session';
const BINDING_COOKIE = '__Host-tessera-browser';
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export const sha256 = (value: string): string => createHash('sha256').update(value, 'utf8').digest('base64url');
const newToken = (): string => randomBytes(32).toString('base64url');

function cookieOf(request: FastifyRequest, name: string): string | undefined {
  const value = request.cookies?.[name];
  return typeof value === 'string' && TOKEN.test(value) ? value : undefined;
}

const cookieOptions = (maxAge?: number) => ({
  path: '/',
  httpOnly: true,
  secure: true,
  sameSite: 'lax' as const,
  ...(maxAge === undefined ? {} : { maxAge }),
});

/** The browser's binding token, made (and set as a cookie for the browser's lifetime) when absent. */
export function browserBinding(request: FastifyRequest, reply: FastifyReply): string {
  const existing = cookieOf(request, BINDING_COOKIE);
  if (existing) return existing;
  const token = newToken();
  reply.setCookie(BINDING_COOKIE, token, cookieOptions());
  return token;
}

/** The binding token the browser sent, without making one (form posts). */
export function sentBinding(request: FastifyRequest): string | undefined {
  return cookieOf(request, BINDING_COOKIE);
}

export async function currentBrowserSession(
  db: Queryable,
  request: FastifyRequest,
): Promise<BrowserSessionRow | undefined> {
  const token = cookieOf(request, SESSION_COOKIE);
  return token ? findLiveBrowserSession(db, sha256(token)) : undefined;
}

export async function startBrowserSession(
  db: Queryable,
  reply: FastifyReply,
  s: { userId: string; amr: string[]; ttlSeconds: number; ip: string | null; userAgent: string | null },
): Promise<BrowserSessionRow> {
  const token = newToken();
  const row = await createBrowserSession(db, { ...s, tokenHash: sha256(token) });
  reply.setCookie(SESSION_COOKIE, token, cookieOptions(s.ttlSeconds));
  return row;
}

/**
 * The session's own user authenticated again in this browser: a new token replaces the one
 * this request presented, so the old cookie is no session from now on. Undefined when the
 * presented token is no longer the session's (a parallel re-login won, or it just ended).
 */
export async function renewBrowserSession(
  db: Queryable,
  reply: FastifyReply,
  s: { id: string; amr: string[]; ttlSeconds: number },
): Promise<BrowserSessionRow | undefined> {
  const presented = cookieOf(reply.request, SESSION_COOKIE);
  if (!presented) return undefined;
  const token = newToken();
  const row = await renewBrowserAuthentication(db, {
    ...s,
    tokenHash: sha256(presented),
    newTokenHash: sha256(token),
  });
  if (row) reply.setCookie(SESSION_COOKIE, token, cookieOptions(s.ttlSeconds));
  return row;
}

export function clearBrowserSession(reply: FastifyReply): void {
  reply.setCookie(SESSION_COOKIE, '', cookieOptions(0));
}

/**
 * CSRF tokens for the hosted forms: an HMAC of the form's purpose and subject under the
 * browser's binding token, so a token is good for one form of one browser only.
 */
export class FormTokens {
  constructor(private readonly secret: Buffer) {}

  issue(binding: string, purpose: string, subject: string): string {
    return createHmac('sha256', this.secret).update(`${purpose}\n${subject}\n${binding}`).digest('base64url');
  }

  check(binding: string | undefined, purpose: string, subject: string, presented: unknown): boolean {
    if (!binding || typeof presented !== 'string' || !TOKEN.test(presented)) return false;
    const expected = Buffer.from(this.issue(binding, purpose, subject));
    const given = Buffer.from(presented);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

/**
 * Fetch metadata and Origin, as a second line behind the CSRF token: a form post from
 * another site is refused even when it carries a token. `Origin: null` (a privacy-
 * sensitive context, or a sandboxed frame) proves nothing, so then Sec-Fetch-Site decides.
 */
export function isSameOriginPost(request: FastifyRequest, issuer: string): boolean {
  const origin = request.headers.origin;
  const site = request.headers['sec-fetch-site'];
  if (typeof origin === 'string' && origin !== 'null') return origin === new URL(issuer).origin;
  if (origin === 'null') return site === 'same-origin';
  return site === undefined || site === 'same-origin' || site === 'none';
}
