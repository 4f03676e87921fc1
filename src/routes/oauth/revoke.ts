// POST /oauth/revoke (RFC 7009). Revoking a refresh token, or a user's access token,
// ends its whole session; a client_credentials access token is revoked on its own.
// Unknown, expired or malformed tokens get 200 as the RFC says. A browser-mode logout (the
// refresh cookie) also answers Clear-Site-Data.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { TesseraError } from '../../errors/errors.js';
import { Text, errors } from '../../schemas.js';
import { ONE_MINUTE } from '../../plugins/external/rate-limit.js';
import { noStore } from '../../lib/http.js';
import { authenticateTokenClient, FIRST_PARTY_CLIENT_ID } from '../../clients/clients.js';
import { revokeToken } from '../../sessions/revocation.js';
import { checkNotCrossSite, clearRefreshCookie, refreshCookie } from '../../lib/refresh-cookie.js';

const RevokeBody = Type.Object(
  {
    token: Type.Optional(Text({ minLength: 1, description: 'absent in browser mode: the refresh cookie is revoked' })),
    token_type_hint: Type.Optional(Text({ maxLength: 64 })),
    client_id: Type.Optional(Text({ minLength: 1, maxLength: 128 })),
    client_secret: Type.Optional(Text({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: Text() },
);

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { config } = app;

  app.post(
    '/revoke',
    {
      config: { policy: { client: true }, rateLimit: { max: config.rateLimits.token, timeWindow: ONE_MINUTE } },
      schema: {
        operationId: 'revokeToken',
        summary:
          'Token revocation (RFC 7009); a refresh or user access token ends its session, a client_credentials token is revoked',
        tags: ['oauth'],
        // Confidential clients authenticate; public clients (and browser mode) send none.
        security: [{ clientBasic: [] }, {}],
        consumes: ['application/x-www-form-urlencoded'],
        body: RevokeBody,
        response: {
          200: Type.Object(
            {},
            {
              additionalProperties: false,
              description: 'empty: the token is revoked, or was not valid (RFC 7009 2.2)',
            },
          ),
          ...errors(400, 401, 403, 413, 415, 429),
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      // Confidential clients authenticate; public ones name themselves (RFC 7009 2.1).
      const client = await authenticateTokenClient(app.db, request, request.body);
      const requester = client?.id ?? request.body.client_id ?? FIRST_PARTY_CLIENT_ID;
      // Browser mode logout: the cookie names the session; refuse anything cross-site.
      const cookie = request.body.token ? undefined : refreshCookie(request);
      if (cookie) checkNotCrossSite(request, config);
      const token = request.body.token ?? cookie;
      if (!token) throw new TesseraError('invalid_request', { detail: 'token missing' });
      if (cookie) {
        clearRefreshCookie(reply);
        // As the hosted logout does: the browser drops what it holds for us (a secure context honours it).
        reply.header('clear-site-data', '"cookies"');
      }
      await revokeToken(app, { token, hint: request.body.token_type_hint, requester, ip: request.ip });
      return reply.code(200).send({});
    },
  );
};

export default routes;
