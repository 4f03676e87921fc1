// POST /oauth/token (RFC 6749), form-encoded, as a pipeline of named guards and then the
// grant's own handler: checkGrantSupported, authenticateClient, checkGrantAllowed, and the
// use case in src/grants/ (one file per grant type) behind each entry of the grant map.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { TesseraError } from '../../errors/errors.js';
import { ONE_MINUTE } from '../../plugins/external/rate-limit.js';
import { Text, errors, tokenResponseRef } from '../../schemas.js';
import { noStore } from '../../lib/http.js';
import { checkNotCrossSite, deliverRefreshToken, refreshCookie } from '../../lib/refresh-cookie.js';
import { authenticateTokenClient, type ClientRow } from '../../clients/clients.js';
import { authorizationCodeGrant } from '../../grants/authorization-code.js';
import { refreshTokenGrant } from '../../grants/refresh-token.js';
import { clientCredentialsGrant, mayUseClientCredentials } from '../../grants/client-credentials.js';
import type { TokenResponseBody } from '../../grants/token-pair.js';

// RFC 6749 3.2: unknown parameters are ignored, so extra properties are allowed here.
// Sizes are bounded by the body limit; an oversized token is an invalid grant, not a bad request.
const TokenBody = Type.Object(
  {
    grant_type: Text({ minLength: 1, maxLength: 128 }),
    refresh_token: Type.Optional(Text({ minLength: 1 })),
    code: Type.Optional(Text({ minLength: 1, maxLength: 512 })),
    redirect_uri: Type.Optional(Text({ minLength: 1, maxLength: 2048 })),
    code_verifier: Type.Optional(Text({ minLength: 1, maxLength: 256 })),
    client_id: Type.Optional(Text({ minLength: 1, maxLength: 128 })),
    client_secret: Type.Optional(Text({ minLength: 1, maxLength: 512 })),
    scope: Type.Optional(Text({ minLength: 1, maxLength: 1024 })),
    resource: Type.Optional(Text({ minLength: 1, maxLength: 2048 })),
  },
  { additionalProperties: Text() },
);
type TokenRequest = FastifyRequest<{ Body: Type.Static<typeof TokenBody> }>;

interface GrantHandler {
  /** Refuses a client that may not use this grant (after client authentication). */
  checkAllowed?(client: ClientRow | undefined): void;
  issue(request: TokenRequest, reply: FastifyReply, client: ClientRow | undefined): Promise<TokenResponseBody>;
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const grants: Record<string, GrantHandler> = {
    authorization_code: {
      checkAllowed(client) {
        // Public clients identify themselves with client_id; confidential ones authenticate.
        if (!client) {
          throw new TesseraError('invalid_client', {
            detail: 'authorization_code without a client',
            headers: { 'WWW-Authenticate': 'Basic realm="tessera"' },
          });
        }
        if (!client.grant_types.includes('authorization_code'))
          throw new TesseraError('unauthorized_client', { detail: 'grant not allowed for client' });
      },
      async issue(request, _reply, client) {
        const body = request.body;
        return authorizationCodeGrant(app, client!, {
          code: body.code,
          redirectUri: body.redirect_uri,
          codeVerifier: body.code_verifier,
          ip: request.ip,
          userAgent: request.headers['user-agent']?.slice(0, 512) ?? null,
        });
      },
    },
    refresh_token: {
      async issue(request, reply, client) {
        const body = request.body;
        // Browser mode: no token in the body, the cookie carries it, and the request must not be cross-site.
        const cookie = body.refresh_token ? undefined : refreshCookie(request);
        if (cookie) checkNotCrossSite(request, app.config);
        const presented = body.refresh_token ?? cookie;
        if (!presented) throw new TesseraError('invalid_request', { detail: 'refresh_token missing' });
        const issued = await refreshTokenGrant(
          app,
          {
            refreshToken: presented,
            clientId: client?.id ?? body.client_id,
            scope: body.scope,
            resource: body.resource,
            ip: request.ip,
            userAgent: request.headers['user-agent']?.slice(0, 512) ?? null,
            requestId: request.id,
          },
          request.log,
        );
        return deliverRefreshToken(reply, issued, cookie ? 'cookie' : 'body');
      },
    },
    client_credentials: {
      checkAllowed(client) {
        const verdict = mayUseClientCredentials(client);
        if (verdict === 'no_client') {
          throw new TesseraError('invalid_client', {
            detail: 'client_credentials without client authentication',
            headers: { 'WWW-Authenticate': 'Basic realm="tessera"' },
          });
        }
        if (verdict === 'not_registered')
          throw new TesseraError('unauthorized_client', { detail: 'grant not allowed for client' });
      },
      async issue(request, _reply, client) {
        return clientCredentialsGrant(app, client!, { scope: request.body.scope, resource: request.body.resource });
      },
    },
  };

  /** The password grant is refused like any other unsupported grant (RFC 9700 2.4). */
  function checkGrantSupported(grantType: string): GrantHandler {
    const grant = Object.hasOwn(grants, grantType) ? grants[grantType] : undefined;
    if (!grant) throw new TesseraError('unsupported_grant_type', { detail: `grant_type ${grantType.slice(0, 64)}` });
    return grant;
  }

  /** Confidential clients authenticate (client_secret_basic or _post); public clients send client_id only. */
  async function authenticateClient(request: TokenRequest): Promise<ClientRow | undefined> {
    return authenticateTokenClient(app.db, request, request.body);
  }

  function checkGrantAllowed(grant: GrantHandler, client: ClientRow | undefined): void {
    grant.checkAllowed?.(client);
  }

  app.post(
    '/token',
    {
      config: { policy: { client: true }, rateLimit: { max: app.config.rateLimits.token, timeWindow: ONE_MINUTE } },
      schema: {
        operationId: 'token',
        summary:
          'Token endpoint (grants: authorization_code, refresh_token, client_credentials; client_secret_basic, client_secret_post, or none for public clients)',
        tags: ['oauth'],
        // Confidential clients authenticate; public clients send client_id only.
        security: [{ clientBasic: [] }, {}],
        consumes: ['application/x-www-form-urlencoded'],
        body: TokenBody,
        response: { 200: tokenResponseRef, ...errors(400, 401, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      noStore(reply);
      const grant = checkGrantSupported(request.body.grant_type);
      const client = await authenticateClient(request);
      checkGrantAllowed(grant, client);
      return grant.issue(request, reply, client);
    },
  );
};

export default routes;
