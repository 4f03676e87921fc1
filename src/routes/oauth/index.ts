// The OAuth endpoints (form-encoded, as the RFCs ask): POST /oauth/token (RFC 6749) as a
// map from grant_type to its handler, plus revocation, introspection and the revoked list.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import { checkNotCrossSite, refreshCookie, setRefreshCookie } from '../../lib/refresh-cookie.js';
import Type from 'typebox';
import { TesseraError } from '../../errors/errors.js';
import { ONE_MINUTE } from '../../plugins/external/rate-limit.js';
import { Text, TokenResponse, errors } from '../../schemas.js';
import { acceptFormBodiesOnly } from '../../lib/form-body.js';
import { noStore } from '../../lib/http.js';
import { refreshSession, type TokenResponseBody } from '../../grants/session-tokens.js';
import { clientCredentialsGrant } from '../../grants/client-credentials.js';
import { authenticateClient, clientCredentials } from '../../clients/clients.js';
import type { ClientRow } from '../../db/repositories/clients.js';
import revokeRoutes from './revoke.js';
import introspectRoutes from './introspect.js';

// RFC 6749 3.2: unknown parameters are ignored, so extra properties are allowed here.
// Sizes are bounded by the body limit; an oversized token is an invalid grant, not a bad request.
const TokenBody = Type.Object(
  {
    grant_type: Text({ minLength: 1, maxLength: 128 }),
    refresh_token: Type.Optional(Text({ minLength: 1 })),
    client_id: Type.Optional(Text({ minLength: 1, maxLength: 128 })),
    client_secret: Type.Optional(Text({ minLength: 1, maxLength: 512 })),
    scope: Type.Optional(Text({ minLength: 1, maxLength: 1024 })),
    resource: Type.Optional(Text({ minLength: 1, maxLength: 2048 })),
  },
  { additionalProperties: Text() },
);
type TokenRequest = FastifyRequest<{ Body: Type.Static<typeof TokenBody> }>;
type Grant = (request: TokenRequest, client: ClientRow | undefined, reply: FastifyReply) => Promise<TokenResponseBody>;

const routes: FastifyPluginAsyncTypebox = async (app) => {
  acceptFormBodiesOnly(app);
  const services = app.services;

  const grants: Record<string, Grant> = {
    refresh_token: async (request, client, reply) => {
      const body = request.body;
      // Browser mode: no token in the body, the cookie carries it, and the request must not be cross-site.
      const cookie = body.refresh_token ? undefined : refreshCookie(request);
      if (cookie) checkNotCrossSite(request, services.config);
      const presented = body.refresh_token ?? cookie;
      if (!presented) throw new TesseraError('invalid_request', { detail: 'refresh_token missing' });
      const response = await refreshSession(
        services,
        { refreshToken: presented, clientId: client?.id ?? body.client_id, scope: body.scope, resource: body.resource, ip: request.ip },
        request.log,
      );
      if (!cookie) return response;
      const { refresh_token, ...rest } = response;
      setRefreshCookie(reply, refresh_token!, decodeJwt(refresh_token!).exp!);
      return rest;
    },
    client_credentials: async (request, client) => {
      if (!client) throw new TesseraError('invalid_client', { detail: 'client_credentials without client authentication', headers: { 'WWW-Authenticate': 'Basic realm="tessera"' } });
      return clientCredentialsGrant(services, client, { scope: request.body.scope, resource: request.body.resource });
    },
  };

  app.post(
    '/token',
    {
      config: { policy: { client: true }, rateLimit: { max: services.config.rateLimits.token, timeWindow: ONE_MINUTE } },
      schema: {
        summary: 'Token endpoint (grants: refresh_token, client_credentials; client_secret_basic or client_secret_post)',
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
      // Client authentication where the client is confidential; public clients send client_id only.
      const credentials = clientCredentials(request, request.body);
      const client = credentials ? await authenticateClient(services.db, credentials) : undefined;
      return grant(request as TokenRequest, client, reply);
    },
  );

  await app.register(revokeRoutes);
  await app.register(introspectRoutes);
};

export default routes;
