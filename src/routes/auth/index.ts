// POST /auth/login: first-party login with email and password, answering a token response
// (or 401 mfa_required with an mfa_token); POST /auth/mfa: the second step.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ONE_MINUTE } from '../../plugins/external/rate-limit.js';
import { Password, Text, errors, tokenResponseRef } from '../../schemas.js';
import { completeMfaLogin, passwordLogin } from '../../sessions/login.js';
import { AssertionResponse } from '../../schemas.js';
import { TesseraError } from '../../errors/errors.js';
import { FIRST_PARTY_CLIENT_ID } from '../../clients/clients.js';
import { noStore } from '../../lib/http.js';
import { deliverRefreshToken } from '../../lib/refresh-cookie.js';

const RefreshTokenMode = Type.Optional(
  Type.Union([Type.Literal('body'), Type.Literal('cookie')], {
    description: 'cookie: browser mode, the refresh token is set as an HttpOnly cookie',
  }),
);

const LoginBody = Type.Object(
  {
    email: Text({ minLength: 1, maxLength: 320 }),
    password: Password,
    captcha_token: Type.Optional(Text({ minLength: 1, maxLength: 8192 })),
    client_id: Type.Optional(Text({ minLength: 1, maxLength: 128 })),
    scope: Type.Optional(Text({ minLength: 1, maxLength: 1024 })),
    resource: Type.Optional(Text({ minLength: 1, maxLength: 2048 })),
    refresh_token_mode: RefreshTokenMode,
  },
  { additionalProperties: false },
);

const MfaBody = Type.Object(
  {
    mfa_token: Text({ minLength: 1, maxLength: 64 }),
    method: Type.Union([Type.Literal('totp'), Type.Literal('recovery_code'), Type.Literal('webauthn')]),
    code: Type.Optional(
      Text({ minLength: 1, maxLength: 32, description: 'totp: six digits; recovery_code: xxxxx-xxxxx' }),
    ),
    assertion: Type.Optional(AssertionResponse),
    captcha_token: Type.Optional(Text({ minLength: 1, maxLength: 8192 })),
    client_id: Type.Optional(Text({ minLength: 1, maxLength: 128 })),
    refresh_token_mode: RefreshTokenMode,
  },
  { additionalProperties: false },
);

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/login',
    {
      bodyLimit: 8192,
      config: { policy: { public: true }, rateLimit: { max: app.config.rateLimits.login, timeWindow: ONE_MINUTE } },
      schema: {
        operationId: 'login',
        summary: 'Log in with email and password',
        tags: ['auth'],
        security: [],
        body: LoginBody,
        response: { 200: tokenResponseRef, ...errors(400, 401, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const issued = await passwordLogin(
        app,
        {
          email: body.email,
          password: body.password,
          captchaToken: body.captcha_token,
          clientId: body.client_id,
          scope: body.scope,
          resource: body.resource,
          ip: request.ip,
          userAgent: request.headers['user-agent']?.slice(0, 512) ?? null,
        },
        request.log,
      );
      request.log.info({ event: 'login_success', sub: issued.userId, sid: issued.sessionId }, 'login');
      noStore(reply);
      return deliverRefreshToken(reply, issued, body.refresh_token_mode ?? 'body');
    },
  );

  app.post(
    '/mfa',
    {
      bodyLimit: 16_384,
      config: { policy: { public: true }, rateLimit: { max: app.config.rateLimits.login, timeWindow: ONE_MINUTE } },
      schema: {
        operationId: 'completeMfaLogin',
        summary: 'Complete a login with its second step: a TOTP code, a recovery code or a passkey assertion',
        description:
          'mfa_token comes from the 401 mfa_required answer of POST /auth/login, from the same IP, within MFA_LOGIN_TTL. ' +
          'A wrong code answers 401 invalid_code; after CAPTCHA_AFTER_FAILURES of them the mfa_token is spent and the ' +
          'login starts again (400 invalid_grant for a spent, expired or unknown token). Failures count in the login ' +
          'defences (captcha_required, delays, alerts) per account, and a right password does not reset them.',
        tags: ['auth'],
        security: [],
        body: MfaBody,
        response: { 200: tokenResponseRef, ...errors(400, 401, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (body.method === 'webauthn' ? body.assertion === undefined : body.code === undefined)
        throw new TesseraError('invalid_request', {
          description: body.method === 'webauthn' ? 'assertion is required' : 'code is required',
        });
      const issued = await completeMfaLogin(app, {
        mfaToken: body.mfa_token,
        method: body.method,
        code: body.code,
        assertion: body.assertion,
        captchaToken: body.captcha_token,
        clientId: body.client_id ?? FIRST_PARTY_CLIENT_ID,
        ip: request.ip,
        userAgent: request.headers['user-agent']?.slice(0, 512) ?? null,
      });
      request.log.info(
        { event: 'login_success', sub: issued.userId, sid: issued.sessionId, mfa: body.method },
        'login',
      );
      noStore(reply);
      return deliverRefreshToken(reply, issued, body.refresh_token_mode ?? 'body');
    },
  );
};

export default routes;
