// What the second-factor tests share: RFC 6238 codes computed in the test (test/helpers/
// totp.ts, not the library the service uses), an app with the mail server the factor
// changes are mailed to, and the steps of a login with a factor.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import { accountsApp, type AccountsApp } from '../accounts/helpers.js';
import { GOOD_PASSWORD, uniqueEmail } from '../helpers/build.js';
import { base32Decode, freshStep, totpCode } from '../helpers/totp.js';

/** The six-digit code of `secret` for the step `offset` steps from now (RFC 6238, computed in the test). */
export const totp = totpCode;
export { base32Decode, freshStep };

export const auth = (token: string) => ({ authorization: `Bearer ${token}` });

export interface Tokens {
  access_token: string;
  refresh_token: string;
}

export const claims = (token: string) => decodeJwt(token) as Record<string, unknown> & { amr?: string[]; acr?: string };

export async function mfaApp(t: Pick<TestContext, 'after'>, env: Record<string, string> = {}): Promise<AccountsApp> {
  return accountsApp(t, { EMAIL_VERIFICATION: 'off', ...env });
}

export const login = (app: FastifyInstance, email: string, password = GOOD_PASSWORD, remoteAddress = '127.0.0.1') =>
  app.inject({ method: 'POST', url: '/auth/login', payload: { email, password }, remoteAddress });

export const secondStep = (app: FastifyInstance, body: Record<string, unknown>, remoteAddress = '127.0.0.1') =>
  app.inject({ method: 'POST', url: '/auth/mfa', payload: body, remoteAddress });

/** A registered user, logged in with the password only. */
export async function newUser(app: FastifyInstance, email = uniqueEmail('mfa')) {
  const reg = await app.inject({ method: 'POST', url: '/users', payload: { email, password: GOOD_PASSWORD } });
  assert.equal(reg.statusCode, 201, reg.body);
  const res = await login(app, email);
  assert.equal(res.statusCode, 200, res.body);
  return { email, id: String(claims(res.json<Tokens>().access_token).sub), tokens: res.json<Tokens>() };
}

/** Enrols a TOTP factor with a real code; its secret and the recovery codes of the first factor. */
export async function enrolTotp(app: FastifyInstance, accessToken: string) {
  const started = await app.inject({ method: 'POST', url: '/users/me/mfa/totp', headers: auth(accessToken) });
  assert.equal(started.statusCode, 201, started.body);
  const { secret, id } = started.json<{ secret: string; id: string }>();
  await freshStep();
  const confirmed = await app.inject({
    method: 'POST',
    url: '/users/me/mfa/totp/confirm',
    headers: auth(accessToken),
    payload: { code: totp(secret) },
  });
  assert.equal(confirmed.statusCode, 200, confirmed.body);
  return { secret, id, recoveryCodes: confirmed.json<{ recovery_codes?: string[] }>().recovery_codes ?? [] };
}

/** A password login that must stop at the second step: its mfa_token and methods. */
export async function mfaToken(app: FastifyInstance, email: string, remoteAddress = '127.0.0.1') {
  const res = await login(app, email, GOOD_PASSWORD, remoteAddress);
  assert.equal(res.statusCode, 401, res.body);
  const body = res.json<{ error: string; mfa_token: string; methods: string[]; webauthn?: unknown }>();
  assert.equal(body.error, 'mfa_required');
  return body;
}
