// Shared pieces of the access tests (roles, admin and self-service APIs, clients,
// introspection and revocation): form bodies, client authentication, token forgery,
// session and user rows read straight from the database.
import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import type { TestServices as Services } from '../helpers/build.js';
import { createClient } from '../../src/clients/clients.js';

export const FORM = { 'content-type': 'application/x-www-form-urlencoded' } as const;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export type Tokens = { access_token: string; refresh_token: string };

export const bearer = (accessToken: string) => ({ authorization: `Bearer ${accessToken}` });

/** RFC 6749 2.3.1: id and secret are form-urlencoded, then Basic-encoded. */
export const basic = (id: string, secret: string) => ({
  authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
});

export const form = (pairs: Record<string, string>) => new URLSearchParams(pairs).toString();

export interface TestClient {
  id: string;
  secret: string;
}

/** A confidential client registered the way the admin API and the CLI do it. */
export async function newClient(
  services: Pick<Services, 'db'>,
  p: { scopes?: string[]; introspect?: boolean; name?: string } = {},
): Promise<TestClient> {
  const { client, secret } = await createClient(services.db, {
    name: p.name ?? 'test client',
    scopes: p.scopes ?? ['reports:read'],
    grantTypes: ['client_credentials'],
    canIntrospect: p.introspect ?? false,
  });
  return { id: client.id, secret };
}

/** A client_credentials access token (client_secret_post). */
export async function clientToken(
  app: FastifyInstance,
  client: TestClient,
  extra: Record<string, string> = {},
): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: FORM,
    payload: form({ grant_type: 'client_credentials', client_id: client.id, client_secret: client.secret, ...extra }),
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json<{ access_token: string }>().access_token;
}

export function introspect(
  app: FastifyInstance,
  client: TestClient | undefined,
  token: string,
  extra: Record<string, string> = {},
) {
  return app.inject({
    method: 'POST',
    url: '/oauth/introspect',
    headers: { ...FORM, ...(client ? basic(client.id, client.secret) : {}) },
    payload: form({ token, ...extra }),
  });
}

export function revoke(
  app: FastifyInstance,
  token: string,
  extra: Record<string, string> = {},
  headers: Record<string, string> = {},
) {
  return app.inject({
    method: 'POST',
    url: '/oauth/revoke',
    headers: { ...FORM, ...headers },
    payload: form({ token, ...extra }),
  });
}

export function revokedList(app: FastifyInstance, client: TestClient | undefined, since: string | number) {
  return app.inject({
    method: 'GET',
    url: `/oauth/revoked?since=${since}`,
    headers: client ? basic(client.id, client.secret) : {},
  });
}

export const sidOf = (token: string) => String(decodeJwt(token).sid);
export const kidOf = (token: string) => String(decodeProtectedHeader(token).kid);

export interface SessionState {
  id: string;
  user_id: string;
  ended_at: Date | null;
  end_reason: string | null;
}

export async function sessionRow(services: Pick<Services, 'db'>, sid: string): Promise<SessionState> {
  const [row] = await services.db.query<SessionState>(
    'SELECT id, user_id, ended_at, end_reason FROM sessions WHERE id = $1',
    [sid],
  );
  assert.ok(row, `session ${sid} exists`);
  return row;
}

export interface UserState {
  id: string;
  email: string;
  password_hash: string;
  roles: string[];
  disabled: boolean;
  created_at: Date;
  sessions_revoked_at: Date | null;
}

export async function userRow(services: Pick<Services, 'db'>, id: string): Promise<UserState> {
  const [row] = await services.db.query<UserState>(
    'SELECT id, email, password_hash, roles, disabled, created_at, sessions_revoked_at FROM users WHERE id = $1',
    [id],
  );
  assert.ok(row, `user ${id} exists`);
  return row;
}

/** A refused answer: the status, the error code, the contract's error body shape. */
export function assertError(res: LightMyRequestResponse, status: number, error: string): void {
  assert.equal(res.statusCode, status, `expected ${status} ${error}, got ${res.statusCode} ${res.body}`);
  const body = res.json<Record<string, unknown>>();
  assert.equal(body.error, error, res.body);
  assert.equal(typeof body.error_description, 'string');
}

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Tokens no one should accept, each built from a real token so that only the one
 * forged part is wrong: a changed payload, alg none, an attacker's key under a real
 * kid, HS256 keyed with the public key (algorithm confusion).
 */
export async function forgeries(realToken: string, jwkOfKid: object): Promise<Record<string, string>> {
  const [header, payload, signature] = realToken.split('.') as [string, string, string];
  const claims = decodeJwt(realToken);
  const kid = kidOf(realToken);
  const tamperedClaims = { ...claims, roles: ['admin'], scope: `${String(claims.scope)} admin` };
  const attacker = await generateKeyPair('ES256');
  return {
    'forged: payload changed': `${header}.${b64json(tamperedClaims)}.${signature}`,
    'forged: signature of another token': `${header}.${payload}.${signature.split('').reverse().join('')}`,
    'forged: alg none': `${b64json({ alg: 'none', typ: 'at+jwt', kid })}.${b64json(tamperedClaims)}.`,
    'forged: attacker key with a real kid': await new SignJWT(tamperedClaims)
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
      .sign(attacker.privateKey),
    'forged: HS256 keyed with the public key': await new SignJWT(tamperedClaims)
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid })
      .sign(new TextEncoder().encode(JSON.stringify(jwkOfKid))),
  };
}

/** A token signed with the real current key whose lifetime ended a while ago. */
export async function expiredCopy(services: Pick<Services, 'tokens' | 'config'>, realToken: string): Promise<string> {
  const c = decodeJwt(realToken);
  const past = Date.now() - (services.config.accessTokenTtl + 300) * 1000;
  const { token } = await services.tokens.issueAccessToken(
    {
      sub: String(c.sub),
      aud: String(c.aud),
      clientId: String(c.client_id),
      scope: String(c.scope),
      ...(typeof c.sid === 'string' ? { sid: c.sid } : {}),
      ...(Array.isArray(c.roles) ? { roles: c.roles as string[] } : {}),
      ...(typeof c.auth_time === 'number' ? { authTime: c.auth_time } : {}),
    },
    past,
  );
  const exp = decodeJwt(token).exp!;
  assert.ok(exp < Date.now() / 1000 - 60, 'the copy is well past its expiry');
  return token;
}

/** The same claims as a real token, signed with the real key, for another audience. */
export async function otherAudienceCopy(
  services: Pick<Services, 'tokens'>,
  realToken: string,
  aud: string,
): Promise<string> {
  const c = decodeJwt(realToken);
  const { token } = await services.tokens.issueAccessToken({
    sub: String(c.sub),
    aud,
    clientId: String(c.client_id),
    scope: String(c.scope),
    ...(typeof c.sid === 'string' ? { sid: c.sid } : {}),
    ...(Array.isArray(c.roles) ? { roles: c.roles as string[] } : {}),
  });
  return token;
}
