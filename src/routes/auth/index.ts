// POST /auth/login: first-party login with email and password, answering a token response.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { TesseraError } from '../../errors/errors.js';
import { ONE_MINUTE } from '../../plugins/external/rate-limit.js';
import { Password, Text, TokenResponse, errors } from '../../schemas.js';
import { findUserByEmail, updatePasswordHash } from '../../db/repositories/users.js';
import { recordSecurityEvent } from '../../db/repositories/security-events.js';
import { resolveAudience, resolveScope, USER_SCOPES } from '../../domain/tokens/grant-request.js';
import { FIRST_PARTY_CLIENT_ID, openSession } from '../../grants/session-tokens.js';
import { noStore } from '../../lib/http.js';
import { setRefreshCookie } from '../../lib/refresh-cookie.js';
import { decodeJwt } from 'jose';

const LoginBody = Type.Object(
  {
    email: Text({ minLength: 1, maxLength: 320 }),
    password: Password,
    captcha_token: Type.Optional(Text({ minLength: 1, maxLength: 8192 })),
    client_id: Type.Optional(Text({ minLength: 1, maxLength: 128 })),
    scope: Type.Optional(Text({ minLength: 1, maxLength: 1024 })),
    resource: Type.Optional(Text({ minLength: 1, maxLength: 2048 })),
    refresh_token_mode: Type.Optional(Type.Union([Type.Literal('body'), Type.Literal('cookie')], { description: 'cookie: browser mode, the refresh token is set as an HttpOnly cookie' })),
  },
  { additionalProperties: false },
);

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const services = app.services;
  const { config, db, hasher, credentialGuard } = services;

  app.post(
    '/login',
    {
      bodyLimit: 8192,
      config: { policy: { public: true }, rateLimit: { max: services.config.rateLimits.login, timeWindow: ONE_MINUTE } },
      schema: {
        summary: 'Log in with email and password',
        tags: ['auth'],
        body: LoginBody,
        response: { 200: TokenResponse, ...errors(400, 401, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      // Cheap checks first: nothing here costs a hash.
      const clientId = body.client_id ?? FIRST_PARTY_CLIENT_ID;
      if (clientId !== FIRST_PARTY_CLIENT_ID) throw new TesseraError('invalid_request', { detail: 'unknown client_id at login' });
      const scope = resolveScope(body.scope, USER_SCOPES);
      if (scope === undefined) throw new TesseraError('invalid_scope');
      const audience = resolveAudience(body.resource, config);
      if (audience === undefined) throw new TesseraError('invalid_target');

      // The guard reserves an attempt before any hash: past the thresholds, a captcha first.
      const { value: user, captcha, account } = await credentialGuard.check({ step: 'login', account: body.email, ip: request.ip, captchaToken: body.captcha_token }, async () => {
        const found = await findUserByEmail(db, body.email);
        // Unknown accounts cost the same argon2 verify as known ones: same answer, same time.
        const passwordOk = found ? await hasher.verify(found.password_hash, body.password) : await hasher.verifyDummy(body.password);
        if (found && passwordOk && !found.disabled) return { ok: true, value: found };
        return { ok: false, reason: !found ? 'unknown_account' : found.disabled && passwordOk ? 'disabled' : 'wrong_password', userId: found?.id ?? null };
      });
      if (hasher.needsRehash(user.password_hash)) {
        // Parameters were raised since this hash was made: upgrade it, off the response path.
        hasher
          .hash(body.password)
          .then((hash) => updatePasswordHash(db, user.id, user.password_hash, hash))
          .catch((error: unknown) => request.log.warn({ err: error }, 'password rehash failed'));
      }
      const { sessionId, ...tokens } = await openSession(services, {
        user,
        clientId,
        scope,
        audience,
        userAgent: request.headers['user-agent']?.slice(0, 512) ?? null,
        ip: request.ip,
      });
      request.log.info({ event: 'login_success', sub: user.id, sid: sessionId }, 'login');
      await recordSecurityEvent(db, { type: 'login_success', userId: user.id, sessionId, actor: user.id, ip: request.ip, detail: { client_id: clientId, captcha, account } });
      noStore(reply);
      if (body.refresh_token_mode === 'cookie') {
        const { refresh_token, ...rest } = tokens;
        setRefreshCookie(reply, refresh_token!, decodeJwt(refresh_token!).exp!);
        return rest;
      }
      return tokens;
    },
  );
};

export default routes;
