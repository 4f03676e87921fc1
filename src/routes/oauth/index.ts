// POST /oauth/token (RFC 6749): a map from grant_type to its handler.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { TesseraError } from '../../errors/errors.js';
import { ONE_MINUTE } from '../../plugins/external/rate-limit.js';
import { TokenResponse, errors } from '../../schemas.js';
import { acceptFormBodiesOnly } from '../../lib/form-body.js';
import { noStore } from '../../lib/http.js';
import { refreshSession, type TokenResponseBody } from '../../grants/session-tokens.js';
import type { FastifyRequest } from 'fastify';

// RFC 6749 3.2: unknown parameters are ignored, so extra properties are allowed here.
const TokenBody = Type.Object(
  {
    grant_type: Type.String({ minLength: 1, maxLength: 128 }),
    refresh_token: Type.Optional(Type.String({ minLength: 1, maxLength: 8192 })),
    client_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    scope: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    resource: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  },
  { additionalProperties: Type.String({ maxLength: 8192 }) },
);
type TokenRequest = FastifyRequest<{ Body: Type.Static<typeof TokenBody> }>;

const routes: FastifyPluginAsyncTypebox = async (app) => {
  acceptFormBodiesOnly(app);
  const services = app.services;

  const grants: Record<string, (request: TokenRequest) => Promise<TokenResponseBody>> = {
    refresh_token: async (request) => {
      const body = request.body;
      if (!body.refresh_token) throw new TesseraError('invalid_request', { detail: 'refresh_token missing' });
      return refreshSession(
        services,
        { refreshToken: body.refresh_token, clientId: body.client_id, scope: body.scope, resource: body.resource, ip: request.ip },
        request.log,
      );
    },
  };

  app.post(
    '/token',
    {
      config: { rateLimit: { max: services.config.rateLimits.token, timeWindow: ONE_MINUTE } },
      schema: {
        summary: 'Token endpoint (grants: refresh_token)',
        tags: ['oauth'],
        consumes: ['application/x-www-form-urlencoded'],
        body: TokenBody,
        response: { 200: TokenResponse, ...errors(400, 401, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      noStore(reply);
      const grant = Object.hasOwn(grants, request.body.grant_type) ? grants[request.body.grant_type] : undefined;
      // The password grant is refused like any other unsupported grant (RFC 9700 2.4).
      if (!grant) throw new TesseraError('unsupported_grant_type', { detail: `grant_type ${request.body.grant_type.slice(0, 64)}` });
      return grant(request as TokenRequest);
    },
  );
};

export default routes;
