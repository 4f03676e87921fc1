// POST /auth/login: first-party login with email and password, answering a token response.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ONE_MINUTE } from '../../plugins/external/rate-limit.js';
import { Password, Text, errors, tokenResponseRef } from '../../schemas.js';
import { passwordLogin } from '../../sessions/login.js';
import { noStore } from '../../lib/http.js';
import { deliverRefreshToken } from '../../lib/refresh-cookie.js';

const LoginBody = Type.Object(
  {
    email: Text({ minLength: 1, maxLength: 320 }),
    password: Password,
    captcha_token: Type.Optional(Text({ minLength: 1, maxLength: 8192 })),
    client_id: Type.Optional(Text({ minLength: 1, maxLength: 128 })),
    scope: Type.Optional(Text({ minLength: 1, maxLength: 1024 })),
    resource: Type.Optional(Text({ minLength: 1, maxLength: 2048 })),
    refresh_token_mode: Type.Optional(
      Type.Union([Type.Literal('body'), Type.Literal('cookie')], {
        description: 'cookie: browser mode, the refresh token is set as an HttpOnly cookie',
      }),
    ),
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
};

export default routes;
